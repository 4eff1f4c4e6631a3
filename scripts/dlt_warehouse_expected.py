#!/usr/bin/env python3
"""Generate tests/data/compat/events_<N>.<destination>.json: the tables dlt 1.31 makes of the
shared event generator's output on BigQuery, Snowflake or Redshift, without a server.

Reads the dlt schema that `scripts/dlt_compat_expected.py` recorded from a real dlt run
(`tests/data/compat/events_<N>.expected.json`: tables, ordered columns, dlt data types, hints,
row counts) and maps every column with the destination's own dlt type mapper
(`dlt.destinations.<destination>().capabilities().get_type_mapper()`, default settings: for
Snowflake no `use_timestamp_tz`, no `use_decfloat`). Writes, per table in dlt's order: its
name, row count and columns with their destination type and nullability.

Per destination:
* bigquery: names as dlt's schema has them;
* snowflake, redshift: names folded as dlt folds them there (upper, lower case), the schema's
  table name kept as `schema_name`;
* redshift: dlt writes unbounded text as `varchar(max)`; stevedore writes `varchar(65535)`, the
  same type on Redshift that also parses on its PostgreSQL stand-in: both are recorded
  (`type`, `type_stevedore`).

Usage (a Python with dlt 1.31, e.g. the venv of `cargo xtask venv --dlt`):

    python scripts/dlt_warehouse_expected.py bigquery          # 6000 records
    python scripts/dlt_warehouse_expected.py snowflake 200
"""
import json
import sys
from pathlib import Path

import dlt
import dlt.destinations

REPO = Path(__file__).resolve().parent.parent
COMPAT = REPO / "tests" / "data" / "compat"
DESTINATIONS = ("bigquery", "snowflake", "redshift")


def column(dest, fold, mapper, c, table):
    ty = mapper.to_destination_type(c, table)
    out = {"name": fold(c["name"]), "type": ty}
    if dest == "redshift":
        out["type_stevedore"] = ty.replace("varchar(max)", "varchar(65535)")
    out["nullable"] = c.get("nullable", True)
    return out


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in DESTINATIONS:
        sys.exit("usage: dlt_warehouse_expected.py {%s} [N]" % "|".join(DESTINATIONS))
    dest = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 6000
    if not dlt.__version__.startswith("1.31."):
        sys.exit("dlt_warehouse_expected: error: dlt %s; the fixtures are made with dlt 1.31" % dlt.__version__)
    src = json.loads((COMPAT / ("events_%d.expected.json" % rows)).read_text())
    caps = getattr(dlt.destinations, dest)().capabilities()
    mapper = caps.get_type_mapper()
    fold = caps.casefold_identifier if dest != "bigquery" else (lambda name: name)
    tables = []
    for t in src["tables"]:
        table = {"name": t["name"], "write_disposition": t.get("write_disposition"), "columns": {}}
        cols = []
        for c in t["columns"]:
            col = dict(c)
            table["columns"][c["name"]] = col
            cols.append(column(dest, fold, mapper, col, table))
        entry = {"name": fold(t["name"])}
        if dest != "bigquery":
            entry["schema_name"] = t["name"]
        entry["row_count"] = t.get("row_count")
        entry["columns"] = cols
        tables.append(entry)
    out = {
        "generated_by": "scripts/dlt_warehouse_expected.py %s" % dest,
        "dlt_version": dlt.__version__,
        "from": "events_%d.expected.json" % rows,
        "tables": tables,
    }
    path = COMPAT / ("events_%d.%s.json" % (rows, dest))
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote %s (%d tables)" % (path, len(tables)))


if __name__ == "__main__":
    main()
