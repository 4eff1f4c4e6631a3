"""dlt side of `cargo xtask bench`: load a JSON-lines file with dlt 1.31 the way a dlt user
does (a generator of dicts, append), into the filesystem destination.

usage: python bench_dlt.py FILE FORMAT WORKDIR [TABLE]
TABLE: the table (resource) name, default events
FORMAT: parquet | jsonl (jsonl is gzip unless DATA_WRITER__DISABLE_COMPRESSION=true)
        | postgres (dlt's postgres destination with its default insert_values files; credentials
          from DESTINATION__POSTGRES__CREDENTIALS, dataset from BENCH_DATASET)
"""
import json
import os
import sys

import dlt


def main():
    path, fmt, work = sys.argv[1], sys.argv[2], sys.argv[3]
    table = sys.argv[4] if len(sys.argv) > 4 else "events"

    def rows():
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)

    if fmt == "postgres":
        url = os.environ["DESTINATION__POSTGRES__CREDENTIALS"]
        # dlt insists on a password; the local test server uses trust auth and ignores it
        if "://" in url and "@" in url and ":" not in url.split("://", 1)[1].split("@", 1)[0]:
            scheme, rest = url.split("://", 1)
            user, host = rest.split("@", 1)
            url = f"{scheme}://{user}:unused@{host}"
        p = dlt.pipeline(
            "bench",
            destination=dlt.destinations.postgres(credentials=url),
            dataset_name=os.environ.get("BENCH_DATASET", "bench_dlt"),
            pipelines_dir=os.path.join(work, "p"),
        )
        info = p.run(dlt.resource(rows, name=table))
        print(info)
        return
    p = dlt.pipeline(
        "bench",
        destination=dlt.destinations.filesystem(bucket_url="file://" + os.path.abspath(os.path.join(work, "data"))),
        dataset_name="bench_data",
        pipelines_dir=os.path.join(work, "p"),
    )
    info = p.run(dlt.resource(rows, name=table), loader_file_format=fmt)
    print(info)


if __name__ == "__main__":
    main()
