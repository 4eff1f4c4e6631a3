#!/usr/bin/env python3
"""Crash-and-rerun trials: `kill -9` the CLI at random moments, run the same command again,
and count what the destination holds.

This is the measurement behind the "exactly-once under the documented rerun" promise
(docs/getting-started.md, "What a rerun does"). The CI tests kill at chosen moments; this
script kills at random ones, many times, and prints a table of outcomes per phase.

    cargo build --workspace                       # or --release, and pass its binary
    cargo xtask services up postgres && eval "$(cargo xtask services env)"
    ~/.cache/stevedore/venv/bin/python scripts/crash_trials.py \\
        --bin ~/.cache/stevedore/target/debug/stevedore --records 50000 --trials 10

Scenarios (`--only NAME` to pick some):
- `fs-append`: local filesystem, parquet, append: kill at a random moment, rerun, count the
  rows of every table with pyarrow over the table folders and the `_dlt_loads` markers.
- `pg-append`: the same into PostgreSQL (needs STEVEDORE_PG_URL).
- `pg-merge`: a first load, then a merge on `id` of the same input killed at a random moment,
  rerun: every key once.
- `pg-badpass`: a wrong password leaves the package pending; the right one loads it once.
- `fs-concurrent`: two runs of one pipeline at once: one waits or fails, totals exact.

Trials kill in turn at a random moment, at the first sight of a normalized package waiting for
the loader, and at the first sight of a started job.

A trial is exact when, after the rerun, each table holds the input's rows once (twice when the
first run had finished before the kill: a completed load and a new one) and there is one
marker per completed load, and no hidden temporary file is left in the table folders. The phase of a kill is
read from the pipeline's working folder at the moment of the kill (no normalized package yet:
extract or normalize; a normalized package with no job started: before the load; with a
started or completed job: during the load; the process had exited: late).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT.parent / "shared" / "bench" / "gen_events.py"


def phase(work):
    """What the pipeline's working folder shows at the moment of the kill: a normalized package
    with a started or completed job is being loaded; one without is waiting for the loader."""
    normalized = work / "load" / "normalized"
    pkgs = [p for p in normalized.iterdir()] if normalized.is_dir() else []
    if not pkgs:
        return "extract/normalize"
    for p in pkgs:
        for d in ("started_jobs", "completed_jobs"):
            if (p / d).is_dir() and any((p / d).iterdir()):
                return "load"
    return "normalized, before load"


class Runner:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp

    def cmd(self, proj, extra):
        return [self.args.bin, "load", str(proj / "events.jsonl"), "--table", "events",
                "--pipeline", "trial", "--pipelines-dir", str(proj / "pipelines")] + extra

    def run(self, proj, extra, env=None):
        e = dict(os.environ, **(env or {}))
        return subprocess.run(self.cmd(proj, extra), cwd=proj, env=e, capture_output=True, text=True)

    def kill_at(self, proj, extra, at, env=None):
        """`at` is a number of seconds after the start, or the name of a phase: kill at the
        first sight of it (polled every 2 ms)."""
        e = dict(os.environ, **(env or {}))
        p = subprocess.Popen(self.cmd(proj, extra), cwd=proj, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        work = proj / "pipelines" / "trial"
        deadline = time.monotonic() + (at if isinstance(at, float) else 600)
        while time.monotonic() < deadline:
            if p.poll() is not None:
                return "late"
            if isinstance(at, str) and phase(work) == at:
                break
            time.sleep(0.002 if isinstance(at, str) else 0.005)
        if p.poll() is not None:
            return "late"
        ph = phase(work)
        p.kill()
        p.wait()
        return ph


MOMENTS = ("random", "normalized, before load", "load")


def moment(i, span):
    """Trial i kills at a random time within `span` seconds, or at the first sight of a
    package waiting for the loader, or of the first started job (in turn)."""
    m = MOMENTS[i % len(MOMENTS)]
    return random.uniform(0.05, span) if m == "random" else m


def loads(ph):
    """Completed loads expected after the kill and the rerun: a run that finished before the
    kill ("late") was a completed load, and loading the same input again is a new load."""
    return 2 if ph == "late" else 1


def times(counts, n):
    return {t: c * n for t, c in counts.items()}


def fs_counts(proj, dataset_dir):
    import pyarrow.parquet as pq
    out = {}
    for t in sorted(os.listdir(dataset_dir)):
        d = dataset_dir / t
        if not d.is_dir() or t.startswith("_dlt"):
            continue
        files = list(d.glob("*.parquet"))
        out[t] = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    markers = len(list((dataset_dir / "_dlt_loads").glob("*"))) if (dataset_dir / "_dlt_loads").is_dir() else 0
    stray = [str(p) for p in dataset_dir.rglob(".*") if p.is_file()]
    return out, markers, stray


def pg(url, sql):
    import psycopg
    with psycopg.connect(url, autocommit=True) as c:
        cur = c.execute(sql)
        return cur.fetchall() if cur.description else None


def pg_counts(url, dataset, tables):
    out = {t: pg(url, f'SELECT count(*) FROM "{dataset}"."{t}"')[0][0] for t in tables}
    markers = pg(url, f'SELECT count(*) FROM "{dataset}"._dlt_loads WHERE status = 0')[0][0]
    return out, markers


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the stevedore binary")
    ap.add_argument("--records", type=int, default=50000)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--only", action="append", help="scenario name (repeatable)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    random.seed(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="stevedore-trials-"))
    src = tmp / "events.jsonl"
    subprocess.run([sys.executable, str(GEN), str(args.records), str(src)], check=True)
    runner = Runner(args, tmp)
    url = os.environ.get("STEVEDORE_PG_URL")
    results = defaultdict(Counter)
    details = []

    def project(name):
        proj = tmp / name
        if proj.exists():
            shutil.rmtree(proj)
        proj.mkdir()
        shutil.copy(src, proj / "events.jsonl")
        return proj

    # Rows per table from a clean load (the reference the trials are held to).
    ref = project("reference")
    t0 = time.monotonic()
    r = runner.run(ref, ["--bucket-url", str(ref / "out"), "--format", "parquet"])
    fs_time = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    want, _, _ = fs_counts(ref, next((ref / "out").iterdir()))
    print(f"input: {args.records} records, {sum(want.values())} rows in {len(want)} tables; a clean filesystem load takes {fs_time:.2f} s", flush=True)

    only = set(args.only or ["fs-append", "pg-append", "pg-merge", "pg-badpass", "fs-concurrent"])

    if "fs-append" in only:
        for i in range(args.trials):
            proj = project(f"fs{i}")
            at = moment(i, fs_time)
            extra = ["--bucket-url", str(proj / "out"), "--format", "parquet"]
            ph = runner.kill_at(proj, extra, at)
            r = runner.run(proj, extra)
            ds = next((proj / "out").iterdir())
            got, markers, stray = fs_counts(proj, ds)
            exact = r.returncode == 0 and got == times(want, loads(ph)) and markers == loads(ph) and not stray
            results["fs-append"][(ph, exact)] += 1
            details.append(("fs-append", i, str(at), ph, exact, markers, stray[:2], r.returncode))

    if url and only & {"pg-append", "pg-merge", "pg-badpass"}:
        ref = project("pgref")
        ds = f"trial_ref_{os.getpid()}"
        t0 = time.monotonic()
        r = runner.run(ref, ["--destination", "postgres", "--dataset", ds], {"DESTINATION__POSTGRES__CREDENTIALS": url})
        pg_time = time.monotonic() - t0
        assert r.returncode == 0, r.stderr
        pg(url, f'DROP SCHEMA "{ds}" CASCADE')
        print(f"a clean PostgreSQL load takes {pg_time:.2f} s", flush=True)
        env = {"DESTINATION__POSTGRES__CREDENTIALS": url}

        if "pg-append" in only:
            for i in range(args.trials):
                proj = project(f"pg{i}")
                ds = f"trial_{os.getpid()}_{i}"
                extra = ["--destination", "postgres", "--dataset", ds]
                at = moment(i, pg_time)
                ph = runner.kill_at(proj, extra, at, env)
                r = runner.run(proj, extra, env)
                got, markers = pg_counts(url, ds, want)
                exact = r.returncode == 0 and got == times(want, loads(ph)) and markers == loads(ph)
                results["pg-append"][(ph, exact)] += 1
                details.append(("pg-append", i, str(at), ph, exact, markers, r.returncode, r.stderr[-300:] if r.returncode else ""))
                pg(url, f'DROP SCHEMA "{ds}" CASCADE')

        if "pg-merge" in only:
            for i in range(args.trials):
                proj = project(f"pgm{i}")
                ds = f"trial_m_{os.getpid()}_{i}"
                extra = ["--destination", "postgres", "--dataset", ds, "--write-disposition", "merge", "--primary-key", "id"]
                r = runner.run(proj, extra, env)
                assert r.returncode == 0, r.stderr
                at = moment(i, pg_time * 1.2)
                ph = runner.kill_at(proj, extra, at, env)
                r = runner.run(proj, extra, env)
                root = pg(url, f'SELECT count(*), count(DISTINCT id) FROM "{ds}".events')[0]
                got, markers = pg_counts(url, ds, want)
                exact = r.returncode == 0 and root[0] == root[1] == want["events"] and got == want and markers == 1 + loads(ph)
                results["pg-merge"][(ph, exact)] += 1
                details.append(("pg-merge", i, str(at), ph, exact, markers, r.returncode, root))
                pg(url, f'DROP SCHEMA "{ds}" CASCADE')

        if "pg-badpass" in only:
            proj = project("pgbad")
            ds = f"trial_b_{os.getpid()}"
            extra = ["--destination", "postgres", "--dataset", ds]
            bad = url.replace("postgres@", "postgres:wrong@", 1) if "postgres@" in url else url + "_nodb"
            r1 = runner.run(proj, extra, {"DESTINATION__POSTGRES__CREDENTIALS": url.rsplit("/", 1)[0] + "/no_such_db"})
            r2 = runner.run(proj, extra, env)
            got, markers = pg_counts(url, ds, want)
            exact = r1.returncode != 0 and r2.returncode == 0 and got == want and markers == 1
            results["pg-badpass"][("first run refused", exact)] += 1
            details.append(("pg-badpass", 0, "-", "refused" if r1.returncode else "loaded?!", exact, markers, r2.returncode))
            pg(url, f'DROP SCHEMA "{ds}" CASCADE')

    if "fs-concurrent" in only:
        for i in range(max(1, args.trials // 2)):
            proj = project(f"conc{i}")
            extra = ["--bucket-url", str(proj / "out"), "--format", "parquet"]
            ps = [subprocess.Popen(runner.cmd(proj, extra), cwd=proj, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
            outs = [p.communicate() for p in ps]
            codes = [p.returncode for p in ps]
            ds = next((proj / "out").iterdir())
            got, markers, stray = fs_counts(proj, ds)
            completed = sum(1 for c in codes if c == 0)
            exact = completed >= 1 and all(n == want[t] * markers for t, n in got.items()) and markers == completed and not stray
            results["fs-concurrent"][(f"exit codes {sorted(codes)}", exact)] += 1
            details.append(("fs-concurrent", i, "-", codes, exact, markers, [o[1][-200:] for o in outs if o[1]][:1]))

    print("\nscenario        phase at kill          trials  exact")
    for sc, c in results.items():
        by = defaultdict(lambda: [0, 0])
        for (ph, exact), n in c.items():
            by[ph][0] += n
            by[ph][1] += n if exact else 0
        for ph, (n, ok) in sorted(by.items()):
            print(f"{sc:15} {str(ph):22} {n:6} {ok:6}")
    bad = [d for d in details if not d[4]]
    if bad:
        print("\nnot exact:")
        for d in bad:
            print("  ", d)
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
