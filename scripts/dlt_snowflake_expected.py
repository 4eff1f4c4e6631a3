#!/usr/bin/env python3
"""Generate tests/data/compat/events_<N>.snowflake.json: the Snowflake tables dlt 1.31 makes of
the shared event generator's output, without a server.

Reads the dlt schema that `scripts/dlt_compat_expected.py` recorded from a real dlt run
(`tests/data/compat/events_<N>.expected.json`: tables, ordered columns, dlt data types, hints,
row counts) and maps every column with dlt's own Snowflake type mapper
(`dlt.destinations.snowflake().capabilities().get_type_mapper()`, default settings: no
`use_timestamp_tz`, no `use_decfloat`) and dlt's Snowflake identifier case folding (upper
case). Writes, per table in dlt's order: its stored name, row count and columns with their
stored name, Snowflake type and nullability.

Usage (a Python with dlt 1.31 and its snowflake extra):

    python scripts/dlt_snowflake_expected.py          # 6000
    python scripts/dlt_snowflake_expected.py 200
"""
import json
import sys
from pathlib import Path

import dlt
from dlt.destinations import snowflake

REPO = Path(__file__).resolve().parent.parent
COMPAT = REPO / "tests" / "data" / "compat"


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
    if not dlt.__version__.startswith("1.31."):
        sys.exit("dlt_snowflake_expected: error: dlt %s; the fixtures are made with dlt 1.31" % dlt.__version__)
    src = json.loads((COMPAT / ("events_%d.expected.json" % rows)).read_text())
    caps = snowflake().capabilities()
    mapper = caps.get_type_mapper()
    fold = caps.casefold_identifier
    tables = []
    for t in src["tables"]:
        table = {"name": t["name"], "write_disposition": t.get("write_disposition"), "columns": {}}
        cols = []
        for c in t["columns"]:
            col = dict(c)
            table["columns"][c["name"]] = col
            cols.append({"name": fold(c["name"]), "type": mapper.to_destination_type(col, table), "nullable": c.get("nullable", True)})
        tables.append({"name": fold(t["name"]), "schema_name": t["name"], "row_count": t.get("row_count"), "columns": cols})
    out = {
        "generated_by": "scripts/dlt_snowflake_expected.py",
        "dlt_version": dlt.__version__,
        "from": "events_%d.expected.json" % rows,
        "tables": tables,
    }
    path = COMPAT / ("events_%d.snowflake.json" % rows)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote %s (%d tables)" % (path, len(tables)))


if __name__ == "__main__":
    main()
