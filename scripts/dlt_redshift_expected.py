#!/usr/bin/env python3
"""Generate tests/data/compat/events_<N>.redshift.json: the Redshift tables dlt 1.31 makes of
the shared event generator's output, without a server.

Reads the dlt schema that `scripts/dlt_compat_expected.py` recorded from a real dlt run
(`tests/data/compat/events_<N>.expected.json`: tables, ordered columns, dlt data types, hints,
row counts) and maps every column with dlt's own Redshift type mapper
(`dlt.destinations.redshift().capabilities().get_type_mapper()`, default settings) and dlt's
Redshift identifier case folding (lower case). dlt writes unbounded text as `varchar(max)`;
stevedore writes `varchar(65535)`, the same type on Redshift that also parses on its
PostgreSQL stand-in: both are recorded (`type`, `type_stevedore`). Writes, per table in dlt's order: its stored name, row count and columns with their
stored name, Redshift type and nullability.

Usage (a Python with dlt 1.31):

    python scripts/dlt_redshift_expected.py          # 6000
    python scripts/dlt_redshift_expected.py 200
"""
import json
import sys
from pathlib import Path

import dlt
from dlt.destinations import redshift

REPO = Path(__file__).resolve().parent.parent
COMPAT = REPO / "tests" / "data" / "compat"


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
    if not dlt.__version__.startswith("1.31."):
        sys.exit("dlt_redshift_expected: error: dlt %s; the fixtures are made with dlt 1.31" % dlt.__version__)
    src = json.loads((COMPAT / ("events_%d.expected.json" % rows)).read_text())
    caps = redshift().capabilities()
    mapper = caps.get_type_mapper()
    fold = caps.casefold_identifier
    tables = []
    for t in src["tables"]:
        table = {"name": t["name"], "write_disposition": t.get("write_disposition"), "columns": {}}
        cols = []
        for c in t["columns"]:
            col = dict(c)
            table["columns"][c["name"]] = col
            ty = mapper.to_destination_type(col, table)
            cols.append({
                "name": fold(c["name"]),
                "type": ty,
                "type_stevedore": ty.replace("varchar(max)", "varchar(65535)"),
                "nullable": c.get("nullable", True),
            })
        tables.append({"name": fold(t["name"]), "schema_name": t["name"], "row_count": t.get("row_count"), "columns": cols})
    out = {
        "generated_by": "scripts/dlt_redshift_expected.py",
        "dlt_version": dlt.__version__,
        "from": "events_%d.expected.json" % rows,
        "tables": tables,
    }
    path = COMPAT / ("events_%d.redshift.json" % rows)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote %s (%d tables)" % (path, len(tables)))


if __name__ == "__main__":
    main()
