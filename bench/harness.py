"""What every bench shares: the production stack on loopback, load tools, figures, results.

`main({"health": bench_health.run})` (what bench/run.py and each bench script call):

1. checks the tools (wrk, pgbench, redis-benchmark; apt-get installs what is missing)
   and the services (PostgreSQL and Redis on loopback; started if down, stopped again);
2. creates a throwaway database `crm_bench_<pid>`, migrates it (`flask db upgrade`) and
   loads the data set (bench/datagen.py, BENCH_SIZE);
3. starts the app under gunicorn on a free loopback port (APP_ENV=production);
4. calls each bench with a `Context`, which drives load and returns figures, each set
   against a baseline measured in the same run;
5. reports the web workers' memory against the project's 150 MB bar, prints the summary
   and writes bench/results/<timestamp>.json;
6. always stops what it started and drops the database (also on Ctrl-C or SIGTERM).

Settings come from the environment: BENCH_DURATION (seconds per load target, default 10),
BENCH_ROUNDS (3), BENCH_WARMUP (2), BENCH_CONNECTIONS (16), BENCH_THREADS (2), BENCH_WORKERS (2),
BENCH_SIZE (small), BENCH_PG_URL (postgresql://postgres@127.0.0.1:5432),
BENCH_REDIS_URL (redis://127.0.0.1:6379/13). Every target must be a loopback address.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import ipaddress
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
VENV_BIN = ROOT / ".venv" / "bin"
WRK_SCRIPT = BENCH_DIR / "wrk_report.lua"
PGBENCH_SELECT1 = BENCH_DIR / "pgbench_select1.sql"
DATAGEN = BENCH_DIR / "datagen.py"

RSS_LIMIT_MB = 150  # the project's bar: a web worker stays under 150 MB RSS under load
DB_PREFIX = "crm_bench_"
SERVER_START_TIMEOUT = 60  # seconds for gunicorn to answer its first request
SERVER_STOP_TIMEOUT = 20
SERVICE_START_TIMEOUT = 30
SETTLE_LIMIT = 15  # seconds at most to let a server finish what a load run left queued
TOOLS = {"wrk": "wrk", "pgbench": "postgresql-client", "redis-benchmark": "redis-tools"}


class BenchError(RuntimeError):
    """The bench could not run as asked; the message says why."""


def log(message: str) -> None:
    print(f"  · {message}", flush=True)


# --------------------------------------------------------------------------- settings


def env_int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError as exc:
        raise BenchError(f"{name} must be a whole number; got {raw!r}") from exc
    if not low <= value <= high:
        raise BenchError(f"{name} must be between {low} and {high}; got {value}")
    return value


def require_loopback(url: str) -> str:
    """The URL, if its host is on this machine's loopback; load goes nowhere else."""
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise BenchError(f"benches only target loopback addresses; {url!r} is not one")
    return url


@dataclass(frozen=True)
class Settings:
    duration: int
    warmup: int
    rounds: int
    connections: int
    threads: int
    workers: int
    size: str
    pg_url: str
    redis_url: str

    @classmethod
    def from_env(cls) -> Settings:
        from datagen import SIZES

        size = os.environ.get("BENCH_SIZE") or "small"
        if size not in SIZES:
            raise BenchError(f"BENCH_SIZE must be one of {', '.join(SIZES)}; got {size!r}")
        return cls(
            duration=env_int("BENCH_DURATION", 10, 1, 600),
            warmup=env_int("BENCH_WARMUP", 2, 0, 60),
            rounds=env_int("BENCH_ROUNDS", 3, 1, 60),
            connections=env_int("BENCH_CONNECTIONS", 16, 1, 1024),
            threads=env_int("BENCH_THREADS", 2, 1, 64),
            workers=env_int("BENCH_WORKERS", 2, 1, 64),
            size=size,
            pg_url=require_loopback(os.environ.get("BENCH_PG_URL") or "postgresql://postgres@127.0.0.1:5432"),
            redis_url=require_loopback(os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/13"),
        )

    @property
    def pg(self) -> tuple[str, int, str]:
        parts = urlsplit(self.pg_url)
        return parts.hostname or "127.0.0.1", parts.port or 5432, parts.username or "postgres"

    @property
    def redis(self) -> tuple[str, int]:
        parts = urlsplit(self.redis_url)
        return parts.hostname or "127.0.0.1", parts.port or 6379


# --------------------------------------------------------------------------- processes


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the runner dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def run(cmd: list[str], *, timeout: float, env: dict[str, str] | None = None, check: bool = True):
    """Run a command to completion (bounded by `timeout`), capturing its output."""
    try:
        result = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=ROOT,
            preexec_fn=_die_with_parent,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{cmd[0]} did not finish within {timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise BenchError(f"{cmd[0]} is not installed") from exc
    if check and result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-15:]
        raise BenchError(f"{' '.join(cmd[:3])} … exited {result.returncode}:\n    " + "\n    ".join(tail))
    return result


def ensure_tools() -> None:
    """Install (from Debian's packages) the load tools that are missing."""
    missing = {tool: package for tool, package in TOOLS.items() if shutil.which(tool) is None}
    if not missing:
        return
    packages = sorted(set(missing.values()))
    log(f"installing {', '.join(packages)} (for {', '.join(missing)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=120", *packages]
    if run(install, timeout=600, env=env, check=False).returncode != 0:
        run(["apt-get", "update", "-qq", "-o", "DPkg::Lock::Timeout=120"], timeout=600, env=env)
        run(install, timeout=600, env=env)
    still = [tool for tool in missing if shutil.which(tool) is None]
    if still:
        raise BenchError(f"still missing after apt-get install: {', '.join(still)}")


def wait_for(check: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    """Poll `check` until it is true or `timeout` seconds pass (at most timeout/interval+1 tries)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 1):
        if check():
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    return False


def postgres_ready(settings: Settings) -> bool:
    host, port, _ = settings.pg
    return run(["pg_isready", "-q", "-h", host, "-p", str(port)], timeout=10, check=False).returncode == 0


def redis_ready(settings: Settings) -> bool:
    host, port = settings.redis
    result = run(["redis-cli", "-h", host, "-p", str(port), "ping"], timeout=10, check=False)
    return result.stdout.strip() == "PONG"


def ensure_services(settings: Settings, stack: ExitStack) -> None:
    """PostgreSQL and Redis answer on loopback; whichever this run starts, it stops."""
    if not postgres_ready(settings):
        clusters = (
            sorted(p.name for p in Path("/etc/postgresql").glob("*"))
            if Path("/etc/postgresql").is_dir()
            else []
        )
        if not clusters:
            raise BenchError(
                f"PostgreSQL does not answer on {settings.pg_url} and no local cluster is set up"
            )
        version = clusters[-1]
        log(f"starting PostgreSQL {version}")
        run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], timeout=60)
        stack.callback(
            run,
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "stop"],
            timeout=60,
            check=False,
        )
        if not wait_for(lambda: postgres_ready(settings), timeout=SERVICE_START_TIMEOUT):
            raise BenchError("PostgreSQL did not become ready")
    if not redis_ready(settings):
        host, port = settings.redis
        log(f"starting Redis on {host}:{port}")
        options = f"--bind {host} --port {port} --appendonly no".split()
        redis = subprocess.Popen(
            ["redis-server", *options, "--save", ""],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        stack.callback(stop_process, redis, "Redis")
        if not wait_for(lambda: redis_ready(settings), timeout=SERVICE_START_TIMEOUT):
            raise BenchError("Redis did not become ready")


# --------------------------------------------------------------------------- database


def psql(settings: Settings, sql: str, *, database: str = "postgres") -> str:
    host, port, user = settings.pg
    cmd = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(port), "-U", user]
    return run([*cmd, "-d", database, "-c", sql], timeout=120).stdout


def drop_database(settings: Settings, name: str) -> None:
    psql(settings, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_stale_leftovers(settings: Settings) -> None:
    """Drop the databases (and server logs) of earlier runs killed before they could clean up."""
    names = psql(settings, "SELECT datname FROM pg_database").split()
    for name in names:
        match = re.fullmatch(re.escape(DB_PREFIX) + r"(\d+)", name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            log(f"dropping {name}, left by a run that no longer exists")
            drop_database(settings, name)
    for path in RESULTS_DIR.glob(".*-*.log"):
        pid = path.stem.rpartition("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            path.unlink(missing_ok=True)


def create_database(settings: Settings, stack: ExitStack) -> str:
    name = f"{DB_PREFIX}{os.getpid()}"
    drop_database(settings, name)
    psql(settings, f'CREATE DATABASE "{name}"')
    stack.callback(drop_database, settings, name)
    return name


# --------------------------------------------------------------------------- gunicorn


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, name: str) -> None:
    """SIGTERM, a bounded wait, then SIGKILL to its whole process group (its own session).
    gunicorn's master stops its workers before it exits."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log(f"{name} ignored SIGTERM for {SERVER_STOP_TIMEOUT} s; killing its process group")
        # Not yet reaped, so its pid (the group's id) cannot have been reused.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=SERVER_STOP_TIMEOUT)


def process_status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def process_stats():
    """(pid, name, the fields after the name) of every process's /proc/<pid>/stat."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it exited meanwhile
        yield int(entry.name), stat[stat.find("(") + 1 : stat.rfind(")")], stat.rpartition(")")[2].split()


def cpu_seconds_by_kind(app_pids: list[int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the app's processes (`app_pids`), by
    PostgreSQL's and by everything else, from /proc: the difference of two readings is
    where a load's machine time went."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {"app": 0.0, "postgres": 0.0, "other": 0.0}
    for pid, name, fields in process_stats():
        kind = "app" if pid in app_pids else "postgres" if name.startswith("postgres") else "other"
        found[kind] += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return found


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (gunicorn's workers, for its master)."""
    return sorted(
        child for child, _name, fields in process_stats() if len(fields) > 1 and fields[1] == str(pid)
    )


class Server:
    """One gunicorn (the same settings for the app and the baseline) on a loopback port."""

    def __init__(
        self, name: str, target: str, env: dict[str, str], workers: int, extra: tuple[str, ...] = ()
    ):
        self.name = name
        self.port = free_port()
        self.log_path = RESULTS_DIR / f".{name}-{os.getpid()}.log"
        RESULTS_DIR.mkdir(exist_ok=True)
        # The same settings for every server, so a ratio compares the apps alone.
        options = f"--workers {workers} --bind 127.0.0.1:{self.port} --log-level warning".split()
        cmd = [str(VENV_BIN / "gunicorn"), *extra, target, *options]
        with self.log_path.open("w") as log_file:
            self.process = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: Ctrl-C reaches the runner, which stops it
                preexec_fn=_die_with_parent,
            )

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n    ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_ready(self, path: str) -> None:
        def answers() -> bool:
            if self.process.poll() is not None:
                raise BenchError(
                    f"gunicorn ({self.name}) exited {self.process.returncode}:\n    {self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.url(path), timeout=2) as response:  # noqa: S310  (loopback http)
                    return response.status == 200
            except (urllib.error.URLError, OSError):
                return False

        if not wait_for(answers, timeout=SERVER_START_TIMEOUT):
            raise BenchError(f"gunicorn ({self.name}) did not answer {path} in {SERVER_START_TIMEOUT} s")
        if not wait_for(lambda: len(self.workers()) >= 1, timeout=10):
            raise BenchError(f"gunicorn ({self.name}) has no workers")

    def workers(self) -> list[int]:
        return children_of(self.process.pid)

    def memory(self) -> dict[int, dict[str, float]]:
        """Per worker: RSS now and its peak (VmHWM), in MB (10^6 bytes)."""
        result = {}
        for pid in self.workers():
            status = process_status(pid)
            if "VmRSS" in status:
                result[pid] = {
                    key: round(int(status[name].split()[0]) * 1024 / 1e6, 1)  # kB in /proc are KiB
                    for key, name in (("rss_mb", "VmRSS"), ("peak_mb", "VmHWM"))
                }
        return result

    def reset_peaks(self) -> None:
        """Restart each worker's VmHWM from its current RSS, so the next peak is the load's."""
        for pid in self.workers():
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        stop_process(self.process, f"gunicorn ({self.name})")
        self.log_path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- measurements


@dataclass
class Measurement:
    """One load run: a rate and its latency, from wrk, pgbench or redis-benchmark."""

    label: str
    tool: str
    rate: float
    unit: str
    p95_ms: float | None = None
    mean_ms: float | None = None
    count: int = 0
    errors: int = 0
    detail: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.count > 0 and self.errors == 0

    def describe(self) -> str:
        text = f"{self.rate:.0f} {self.unit}"
        if self.detail.get("rounds"):
            spread = [r["rate"] for r in self.detail["rounds"]]
            text += f" ({min(spread):.0f}–{max(spread):.0f})"
        if self.p95_ms is not None:
            text += f", p95 {self.p95_ms:.2f} ms"
        elif self.mean_ms is not None:
            text += f", mean {self.mean_ms:.2f} ms"
        if self.errors:
            text += f" ({self.errors} errors!)"
        return text


def combine(label: str, rounds: list[Measurement]) -> Measurement:
    """One measurement from the interleaved rounds of a target: the rate over all of them,
    the median of the rounds' p95 (a p95 cannot be merged exactly from summaries), the
    request-weighted mean latency, and every round in `detail`."""
    seconds = sum(r.detail["duration_us"] for r in rounds) / 1e6
    count = sum(r.count for r in rounds)
    return Measurement(
        label=label,
        tool=rounds[0].tool,
        rate=count / seconds,
        unit=rounds[0].unit,
        p95_ms=statistics.median(r.p95_ms for r in rounds),
        mean_ms=sum(r.mean_ms * r.count for r in rounds) / count if count else None,
        count=count,
        errors=sum(r.errors for r in rounds),
        detail={
            "url": rounds[0].detail["url"],
            "connections": rounds[0].detail.get("connections"),
            "rounds": [{"rate": r.rate, "p95_ms": r.p95_ms, **r.detail} for r in rounds],
        },
    )


def wrk(
    label: str,
    url: str,
    settings: Settings,
    duration: int,
    script: Path = WRK_SCRIPT,
    *,
    connections: int | None = None,
    env: dict[str, str] | None = None,
) -> Measurement:
    """wrk against `url`; `script` must keep wrk_report.lua's `done` hook (`dofile` it).
    `connections` overrides BENCH_CONNECTIONS (threads are capped by it, as wrk requires);
    `env` is added to wrk's environment (what a script reads with os.getenv)."""
    require_loopback(url)
    connections = connections or settings.connections
    threads = min(settings.threads, connections)
    load = f"-t{threads} -c{connections} -d{duration}s --timeout 5s".split()
    cmd = ["wrk", *load, "-s", str(script), url]
    output = run(cmd, timeout=duration + 60, env={**os.environ, **env} if env else None).stdout
    line = next((row for row in output.splitlines() if row.startswith("BENCH ")), None)
    if line is None:
        raise BenchError(f"wrk printed no report for {url}:\n{output}")
    raw = {key: float(value) for key, value in (pair.split("=") for pair in line.split()[1:])}
    if raw["duration_us"] < 0.9 * duration * 1e6:  # wrk stops early, and quietly, on SIGINT
        raise BenchError(f"wrk ran {raw['duration_us'] / 1e6:.1f} s of {duration} s against {url}")
    requests = int(raw["requests"])
    failures = sum(
        int(raw[k]) for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "non_2xx")
    )
    return Measurement(
        label=label,
        tool="wrk",
        rate=requests / (raw["duration_us"] / 1e6),
        unit="req/s",
        p95_ms=raw["p95_us"] / 1000,
        mean_ms=raw["mean_us"] / 1000,
        count=requests,
        errors=failures,
        detail={"url": url, "connections": connections, **raw},
    )


def settle(run: Measurement) -> None:
    """Wait for the requests a wrk run left queued in the server to finish, so they do not
    count against the next target. When wrk stops, up to one request per connection is
    still queued or running; draining them takes about one mean latency of that run (with
    N connections in a closed loop, a request waits for the N before it): wait 1.5 of it."""
    time.sleep(min(SETTLE_LIMIT, 1.5 * (run.mean_ms or 0) / 1000))


def pgbench(label: str, database: str, script: Path, settings: Settings) -> Measurement:
    host, port, user = settings.pg
    load = f"-n -c {settings.connections} -j {settings.threads} -T {settings.duration}".split()
    cmd = ["pgbench", *load, "-f", str(script), "-h", host, "-p", str(port), "-U", user, database]
    output = run(cmd, timeout=settings.duration + 60).stdout

    def number(pattern: str, default: float = 0.0) -> float:
        match = re.search(pattern, output)
        return float(match.group(1)) if match else default

    tps = number(r"tps = ([\d.]+) \(without initial connection time\)")
    if not tps:
        raise BenchError(f"pgbench printed no tps:\n{output}")
    return Measurement(
        label=label,
        tool="pgbench",
        rate=tps,
        unit="tps",
        mean_ms=number(r"latency average = ([\d.]+) ms"),
        count=int(number(r"number of transactions actually processed: (\d+)")),
        errors=int(number(r"number of failed transactions: (\d+)")),
        detail={"script": script.name, "clients": settings.connections, "threads": settings.threads},
    )


def redis_ping(label: str, settings: Settings, requests: int = 100_000) -> Measurement:
    host, port = settings.redis
    cmd = ["redis-benchmark", "-h", host, "-p", str(port), "-t", "ping", "-c", str(settings.connections)]
    output = run([*cmd, "-n", str(requests), "--csv"], timeout=120).stdout
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip('"') for cell in line.split('","')]
        if len(cells) == 8 and cells[0] != "test":
            rows[cells[0]] = [float(cell) for cell in cells[1:]]
    if "PING_MBULK" not in rows:
        raise BenchError(f"redis-benchmark printed no PING_MBULK row:\n{output}")
    rps, avg, _min, _p50, p95, _p99, _max = rows["PING_MBULK"]  # what redis-py sends
    return Measurement(
        label=label,
        tool="redis-benchmark",
        rate=rps,
        unit="req/s",
        p95_ms=p95,
        mean_ms=avg,
        count=requests,
        detail={"rows": rows},
    )


# --------------------------------------------------------------------------- figures


@dataclass
class Figure:
    """A claim's figure next to its baseline from the same run."""

    bench: str
    name: str
    measured: str
    value: float
    baseline_name: str
    baseline: str
    baseline_value: float
    ok: bool = True
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else math.nan

    @classmethod
    def compare(cls, bench: str, name: str, measured: Measurement, baseline_name: str, baseline: Measurement):
        bad = [m.label for m in (measured, baseline) if not m.ok]
        return cls(
            bench=bench,
            name=name,
            measured=measured.describe(),
            value=measured.rate,
            baseline_name=baseline_name,
            baseline=baseline.describe(),
            baseline_value=baseline.rate,
            ok=not bad,
            note=f"INVALID: errors in {', '.join(bad)}" if bad else "",
        )

    def line(self) -> str:
        parts = [f"{self.name}: {self.measured}", f"baseline {self.baseline_name}: {self.baseline}"]
        parts.append(f"ratio {self.ratio:.2f}")
        return " | ".join([*parts, self.note] if self.note else parts)


def memory_figure(ctx: Context) -> Figure:
    """The app's workers against the 150 MB bar: the highest RSS any reached during a
    measured load run (VmHWM, reset before each run), with their RSS after all load and
    the peak they reached before it (booting, warming up) for context."""
    after = ctx.app.memory()
    if not after:
        return Figure(
            "memory", "web worker RSS", "no workers found", math.nan, "limit", "", RSS_LIMIT_MB, False
        )
    runs = [m for sample in ctx.app_memory.values() for m in sample.values()]
    peak = max(m["peak_mb"] for m in runs or after.values())
    now = ", ".join(f"{m['rss_mb']:.1f}" for m in after.values())
    measured = f"peak {peak:.1f} MB under load, {now} MB after ({len(after)} workers)"
    if ctx.before_load_memory:
        before = max(m["peak_mb"] for m in ctx.before_load_memory.values())
        measured += f"; {before:.1f} MB before (boot, warm-up)"
    ok = peak < RSS_LIMIT_MB
    return Figure(
        bench="memory",
        name="web worker RSS",
        measured=measured,
        value=peak,
        baseline_name="limit",
        baseline=f"{RSS_LIMIT_MB} MB",
        baseline_value=RSS_LIMIT_MB,
        ok=ok,
        note="under the limit" if ok else f"OVER the {RSS_LIMIT_MB} MB limit",
    )


# --------------------------------------------------------------------------- context


class Context:
    """What a bench gets: the running app, its data, and memoised load runs.

    A measurement is run once per label and reused, so two benches that compare against
    the same baseline ("hello") see the same number.
    """

    def __init__(self, settings: Settings, stack: ExitStack, database: str, app_env: dict[str, str]):
        self.settings = settings
        self.stack = stack
        self.database = database
        self.database_url = app_env["DATABASE_URL"]
        self.redis_url = app_env["REDIS_URL"]
        self.app_env = app_env
        self.data: dict = {}
        # What datagen made that must not reach the results file (an API token's secret).
        self.secrets: dict[str, str] = {}
        # Added to every wrk run's environment (what a wrk script reads with os.getenv).
        self.wrk_env: dict[str, str] = {}
        # Anything else a bench wants in the results file (diagnostics, the SQL it ran).
        self.notes: dict = {}
        self.app: Server | None = None
        self._hello: Server | None = None
        self.measurements: dict[str, Measurement] = {}
        # The app's worker memory: before the first measured run, and after each one.
        self.before_load_memory: dict[int, dict[str, float]] | None = None
        self.app_memory: dict[str, dict[int, dict[str, float]]] = {}

    def start_server(self, name: str, target: str, env: dict[str, str], ready_path: str, extra=()) -> Server:
        server = Server(name, target, env, self.settings.workers, tuple(extra))
        self.stack.callback(server.stop)
        server.wait_ready(ready_path)
        pids = f"master {server.process.pid}, workers {', '.join(map(str, server.workers()))}"
        log(f"gunicorn {name}: {target} on {server.url()} ({pids})")
        return server

    def app_url(self, path: str) -> str:
        return self.app.url(path)

    def hello_url(self, path: str = "/") -> str:
        """The baseline app (bench/baseline_app.py), started on first use."""
        if self._hello is None:
            env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
            self._hello = self.start_server(
                "hello", "baseline_app:app", env, "/", ["--pythonpath", str(BENCH_DIR)]
            )
        return self._hello.url(path)

    def _memo(self, label: str, measure: Callable[[], Measurement]) -> Measurement:
        if label not in self.measurements:
            self.measurements[label] = measure()
            log(f"{label}: {self.measurements[label].describe()}")
        return self.measurements[label]

    def load(self, label: str, url: str, script: Path = WRK_SCRIPT, connections: int | None = None):
        """wrk against `url`; see load_many."""
        return self.load_many([(label, url, script, connections)])[0]

    def load_many(self, targets: list[tuple]) -> list[Measurement]:
        """wrk against each (label, url[, wrk script[, connections]]) target, interleaved:
        BENCH_ROUNDS rounds of BENCH_DURATION / BENCH_ROUNDS seconds, each round visiting every
        target in turn, after one warm-up of each. Interleaving puts a figure and its baseline
        under the same background load, whatever else the machine does meanwhile. A label
        measured before (by this bench or an earlier one) is not measured again; a target's
        connections (None: BENCH_CONNECTIONS) belong in its label."""
        todo = [(*t, None, None)[:4] for t in targets]
        todo = [(label, url, script or WRK_SCRIPT, conns) for label, url, script, conns in todo]
        todo = [t for t in todo if t[0] not in self.measurements]
        settings = self.settings
        seconds = max(1, round(settings.duration / settings.rounds))
        rounds: dict[str, list[Measurement]] = {t[0]: [] for t in todo}
        env = self.wrk_env
        if settings.warmup:
            for label, url, script, conns in todo:
                settle(
                    wrk(
                        f"{label} (warm-up)",
                        url,
                        settings,
                        settings.warmup,
                        script,
                        connections=conns,
                        env=env,
                    )
                )
        for index in range(settings.rounds if todo else 0):
            for label, url, script, conns in todo:
                on_app = url.startswith(self.app.url("/"))
                if on_app:
                    if self.before_load_memory is None:
                        self.before_load_memory = self.app.memory()
                    self.app.reset_peaks()
                rounds[label].append(wrk(label, url, settings, seconds, script, connections=conns, env=env))
                settle(rounds[label][-1])
                if on_app:
                    self.app_memory[f"{label} round {index + 1}"] = self.app.memory()
        for label, *_ in todo:
            self._memo(label, lambda label=label: combine(label, rounds[label]))
        return [self.measurements[t[0]] for t in targets]

    def run_script(self, script: Path, *args: str, timeout: float = 600, env: dict | None = None) -> dict:
        """Run a bench/ script with the app's environment (the bench database, APP_ENV=production)
        and `env` under the project's Python; it prints one JSON line last, which is returned."""
        python = VENV_BIN / "python" if (VENV_BIN / "python").exists() else Path(sys.executable)
        command = [str(python), str(script), *args]
        output = run(command, timeout=timeout, env={**self.app_env, **(env or {})}).stdout
        try:
            return json.loads(output.strip().splitlines()[-1])
        except (IndexError, ValueError) as exc:
            raise BenchError(f"{script.name} printed no JSON line:\n{output[-2000:]}") from exc

    def pgbench_select1(self) -> Measurement:
        label = "pgbench SELECT 1"
        return self._memo(label, lambda: pgbench(label, self.database, PGBENCH_SELECT1, self.settings))

    def redis_ping(self) -> Measurement:
        label = "redis PING"
        return self._memo(label, lambda: redis_ping(label, self.settings))


@contextmanager
def open_context(settings: Settings) -> Iterator[Context]:
    """The whole stack up, yielded as a Context; torn down on the way out, whatever happens."""
    stack = ExitStack()
    try:
        ensure_tools()
        ensure_services(settings, stack)
        drop_stale_leftovers(settings)
        database = create_database(settings, stack)
        log(f"database {database} created")
        app_env = {
            **os.environ,
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "DATA_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),  # a Fernet key
            "DATABASE_URL": f"{settings.pg_url.rstrip('/')}/{database}",
            "REDIS_URL": settings.redis_url,
            "SESSION_COOKIE_SECURE": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], timeout=300, env=app_env)
        log("migrated (flask db upgrade)")
        context = Context(settings, stack, database, app_env)
        context.data = context.run_script(DATAGEN, "--size", settings.size, timeout=1800)
        context.secrets = context.data.pop("secrets", {})
        log(f"data set {settings.size}: {context.data['loaded']} in {context.data['seconds']} s")
        context.app = context.start_server("app", "wsgi:app", app_env, "/healthz")
        yield context
    finally:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        try:
            stack.close()
        finally:
            signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------- runner


def load_average() -> float:
    """The 1-minute load average: other work on the machine skews every figure."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return math.nan


def git_commit() -> str | None:
    result = run(["git", "rev-parse", "HEAD"], timeout=10, check=False)
    return result.stdout.strip() or None


def print_table(figures: list[Figure]) -> None:
    header = ("bench", "figure", "measured", "baseline", "ratio", "status")
    rows = [
        (
            f.bench,
            f.name,
            f.measured,
            f"{f.baseline_name}: {f.baseline}",
            f"{f.ratio:.2f}",
            ("ok" if f.ok else "FAIL") + (f" ({f.note})" if f.note else ""),
        )
        for f in figures
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def write_results(payload: dict) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def _terminate(signum, _frame):
    raise KeyboardInterrupt  # SIGTERM, SIGHUP: unwind through open_context's cleanup, as on Ctrl-C


def main(benches: dict[str, Callable[[Context], list[Figure]]]) -> int:
    """Run `benches` (name -> run function) against one stack; 0 when every figure is ok."""
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started, load_before = datetime.now(UTC), load_average()
    figures: list[Figure] = []
    failures: dict[str, str] = {}
    try:
        settings = Settings.from_env()
        print(
            f"bench: {', '.join(benches)} | {settings.duration} s per target in {settings.rounds} "
            f"interleaved rounds (+{settings.warmup} s warm-up), "
            f"{settings.connections} connections, {settings.threads} load threads, "
            f"{settings.workers} gunicorn workers, data set {settings.size}, {os.cpu_count()} CPUs, "
            f"load {load_before:.2f}",
            flush=True,
        )
        if load_before > (os.cpu_count() or 1) / 2:
            print("  ! the machine is busy already: expect noisy figures (ratios suffer least)", flush=True)
        with open_context(settings) as context:
            for name, bench in benches.items():
                print(f"\n== {name}", flush=True)
                try:
                    results = bench(context)
                except BenchError as exc:
                    failures[name] = str(exc)
                    print(f"{name} FAILED: {exc}", flush=True)
                    continue
                for figure in results:
                    print(figure.line(), flush=True)
                figures.extend(results)
            print("\n== memory (after all load)", flush=True)
            figures.append(memory_figure(context))
            print(figures[-1].line(), flush=True)
            data, measurements, notes = context.data, context.measurements, context.notes
            memory = {"before_load": context.before_load_memory, "after_each_run": context.app_memory}
    except BenchError as exc:
        print(f"\nbench FAILED: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("\nbench interrupted; stopped and cleaned up", file=sys.stderr, flush=True)
        return 130

    print(f"\n== summary ({settings.duration} s per target, {settings.connections} connections)")
    print_table(figures)
    path = write_results(
        {
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "git_commit": git_commit(),
            "host": {
                "cpus": os.cpu_count(),
                "kernel": os.uname().release,
                "load_before": load_before,
                "load_after": load_average(),
            },
            "settings": asdict(settings),
            "data": data,
            "measurements": {label: {**asdict(m), "ok": m.ok} for label, m in measurements.items()},
            "figures": [{**asdict(f), "ratio": f.ratio} for f in figures],
            "app_worker_memory_mb": memory,
            "notes": notes,
            "failures": failures,
        }
    )
    print(f"\nresults: {path.relative_to(ROOT)}")
    if failures or not all(f.ok for f in figures):
        print("some figures failed (see above)", file=sys.stderr)
        return 1
    return 0
