#!/usr/bin/env python3
"""Generate the dlt compatibility fixtures in tests/data/compat/.

Runs the real dlt (1.31, from PyPI) on the output of the shared event generator
(`python3 ../shared/bench/gen_events.py N events.jsonl`), or with `--shape orders` of the
orders generator (`python3 scripts/gen_orders.py N orders.jsonl`: wide rows, lists in list
items), with a filesystem destination and parquet files, then writes what dlt produced to
`tests/data/compat/<shape>_<N>.expected.json`:

- dlt's schema: every data table and dlt system table, in dlt's order, with its parent,
  write disposition, resource and its ordered columns (name, data_type, nullable and
  every hint dlt set, such as unique, row_key, parent_key, precision);
- the files dlt wrote per table and their row counts, counted by reading the files with
  pyarrow (not taken from dlt's own load info), and the Arrow schema of the parquet files.

Nothing run-specific (load ids, timestamps, temp paths) goes into the output, so a rerun
with the same dlt version gives byte-identical files.

Usage (any Python with dlt 1.31 and pyarrow, e.g. the venv that `cargo xtask venv --dlt`
makes):

    ~/.cache/stevedore/venv/bin/python scripts/dlt_compat_expected.py            # 6000 and 200
    ~/.cache/stevedore/venv/bin/python scripts/dlt_compat_expected.py 1000       # another size
    ~/.cache/stevedore/venv/bin/python scripts/dlt_compat_expected.py --shape orders   # 2000 orders
"""
import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# input shapes: the generator, its default seed (recorded in the fixture), default counts
SHAPES = {
    "events": (REPO.parent / "shared" / "bench" / "gen_events.py", 42, [6000, 200]),
    "orders": (REPO / "scripts" / "gen_orders.py", 7, [2000]),
}
DEFAULT_OUT_DIR = REPO / "tests" / "data" / "compat"
EXPECTED_DLT = "1.31."

PIPELINE_NAME = "compat"
DATASET_NAME = "compat_data"
LOADER_FILE_FORMAT = "parquet"

# Column keys that are documentation, not behaviour.
SKIPPED_COLUMN_KEYS = {"name", "data_type", "nullable", "description"}
SKIPPED_TABLE_KEYS = {"name", "parent", "columns", "description"}


def die(msg):
    sys.stderr.write("dlt_compat_expected: error: %s\n" % msg)
    sys.exit(1)


def isolate_from_user_config(workdir):
    """Keep the user's dlt config and environment out of the run, so the output is reproducible."""
    removed = sorted(k for k in os.environ if re.match(r"^[A-Z][A-Z0-9_]*__[A-Z0-9]", k))
    for k in removed:
        del os.environ[k]
    if removed:
        print("ignoring dlt-style config variables: %s" % ", ".join(removed))
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["DLT_DATA_DIR"] = str(workdir / "dlt_data")
    os.environ["DLT_PROJECT_DIR"] = str(workdir)
    # dlt also reads ./.dlt/*.toml from the working directory.
    os.chdir(workdir)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def count_rows(path, pa, pq, pajson):
    """Row count and (for parquet) Arrow schema of one file dlt wrote, read with pyarrow."""
    name = path.name
    if name.endswith(".parquet"):
        table = pq.read_table(path)
        return "parquet", table.num_rows, table.schema
    if name.endswith(".jsonl") or name.endswith(".jsonl.gz"):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rb") as f:
            data = f.read()
        if not data.strip():
            return "jsonl", 0, None
        table = pajson.read_json(pa.BufferReader(data))
        return "jsonl", table.num_rows, None
    die("unexpected file written by dlt: %s" % path)


def column_entry(col):
    entry = {"name": col["name"], "data_type": col.get("data_type"), "nullable": col.get("nullable", True)}
    for key, value in col.items():
        if key in SKIPPED_COLUMN_KEYS or value is None or value is False:
            continue
        entry[key] = value
    return entry


def run_case(shape, rows, generator, out_path, workdir):
    import dlt
    import pyarrow as pa
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    default_generator, seed, _ = SHAPES[shape]
    # the command as run from the repository root, with the shape's own generator
    command = os.path.relpath(default_generator, REPO)
    case_dir = workdir / ("%s_%d" % (shape, rows))
    case_dir.mkdir()
    input_file = case_dir / ("%s.jsonl" % shape)
    subprocess.run([sys.executable, str(generator), str(rows), str(input_file)], check=True)

    @dlt.resource(name=shape, write_disposition="append")
    def records():
        with open(input_file, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)

    bucket = case_dir / "bucket"
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt.destinations.filesystem(bucket_url=bucket.as_uri()),
        dataset_name=DATASET_NAME,
        pipelines_dir=str(case_dir / "pipelines"),
    )
    info = pipeline.run(records(), loader_file_format=LOADER_FILE_FORMAT)
    info.raise_on_failed_jobs()

    schema = pipeline.default_schema
    dataset_dir = bucket / DATASET_NAME
    files_by_table = {}
    for table_dir in sorted(p for p in dataset_dir.iterdir() if p.is_dir()):
        files_by_table[table_dir.name] = sorted(p for p in table_dir.rglob("*") if p.is_file())
    unknown = sorted(set(files_by_table) - set(schema.tables))
    if unknown:
        die("dlt wrote folders for tables missing from its schema: %s" % ", ".join(unknown))

    tables = []
    for name, table in schema.tables.items():
        entry = {"name": name, "parent": table.get("parent")}
        for key, value in table.items():
            if key not in SKIPPED_TABLE_KEYS and value is not None:
                entry[key] = value
        entry["columns"] = [column_entry(c) for c in table["columns"].values()]

        files = []
        parquet_schemas = []
        for path in files_by_table.get(name, []):
            fmt, nrows, arrow_schema = count_rows(path, pa, pq, pajson)
            f = {"format": fmt, "rows": nrows}
            if arrow_schema is not None:
                f["columns"] = len(arrow_schema)
                parquet_schemas.append(arrow_schema)
            files.append(f)
        # file names are random ids: order by shape so the output is stable
        files.sort(key=lambda f: (f["format"], f.get("columns", 0), f["rows"]))
        entry["row_count"] = sum(f["rows"] for f in files)
        entry["files"] = files
        if parquet_schemas:
            parquet_schemas.sort(key=len)
            unified = pa.unify_schemas(parquet_schemas)
            entry["parquet_schema"] = [
                {"name": fld.name, "type": str(fld.type), "nullable": fld.nullable} for fld in unified
            ]
        tables.append(entry)

    doc = {
        "generated_by": "scripts/dlt_compat_expected.py",
        "dlt_version": dlt.__version__,
        "pyarrow_version": pa.__version__,
        "input": {
            "command": "python3 %s %d %s.jsonl" % (command, rows, shape),
            "rows": rows,
            "seed": seed,
            "sha256": sha256_file(input_file),
        },
        "pipeline": {
            "pipeline_name": PIPELINE_NAME,
            "dataset_name": DATASET_NAME,
            "destination": "filesystem",
            "resource": shape,
            "write_disposition": "append",
            "loader_file_format": LOADER_FILE_FORMAT,
        },
        "schema": {"name": schema.name, "naming": schema.naming.name()},
        "tables": tables,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, out_path)
    summary = ", ".join("%s=%d" % (t["name"], t["row_count"]) for t in tables)
    print("wrote %s: %s" % (out_path, summary))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", nargs="*", type=int, help="record counts to generate (default: 6000 200 events, 2000 orders)")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="events",
                    help="input shape: events (gen_events.py) or orders (scripts/gen_orders.py); also the resource name")
    ap.add_argument("--generator", type=Path, help="path to the shape's generator (default: the one named above)")
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where <shape>_<N>.expected.json go")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir with dlt's output and print it")
    ap.add_argument("--any-dlt-version", action="store_true", help="do not insist on dlt %sx" % EXPECTED_DLT)
    args = ap.parse_args(argv[1:])

    try:
        import dlt  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as e:
        die("%s: run this with a Python that has dlt 1.31 and pyarrow (cargo xtask venv --dlt)" % e)
    if not dlt.__version__.startswith(EXPECTED_DLT) and not args.any_dlt_version:
        die("dlt %s found, the fixtures are made with dlt %sx (--any-dlt-version to override)"
            % (dlt.__version__, EXPECTED_DLT))
    default_generator, _, default_rows = SHAPES[args.shape]
    generator = (args.generator or default_generator).resolve()
    if not generator.is_file():
        die("generator not found: %s (pass --generator)" % generator)
    out_dir = args.out_dir.resolve()

    workdir = Path(tempfile.mkdtemp(prefix="dlt-compat-"))
    try:
        isolate_from_user_config(workdir)
        for rows in args.rows or default_rows:
            run_case(args.shape, rows, generator, out_dir / ("%s_%d.expected.json" % (args.shape, rows)), workdir)
    finally:
        if args.keep:
            print("kept dlt's output in %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
