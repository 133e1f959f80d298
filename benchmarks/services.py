"""The processes and databases a benchmark run owns, and nothing else.

Everything here is private to one run: a fresh PostgreSQL database (never the test
suite's ``test_*`` ones), a redis-server of its own on a free port (or Redis db 1 when
no redis-server binary is installed), gunicorn and a Celery worker bound to loopback.
Each process starts in its own session so that stopping it stops its children too
(gunicorn workers, Celery pool processes), and ``Stack`` stops them on any exit.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

from config import gunicorn as deployed

ROOT = Path(__file__).resolve().parent.parent


class BenchmarkError(RuntimeError):
    """A setup problem the user must fix; printed as one clear line."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(ready: Callable[[], bool], timeout: float, what: str, pause: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise BenchmarkError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(pause)


# -- PostgreSQL ------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """A database on the server of ``base_url``, created empty and dropped at the end."""

    base_url: str
    name: str

    @property
    def url(self) -> str:
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(path=f"/{self.name}"))

    @property
    def maintenance_url(self) -> str:
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(path="/postgres"))

    def create(self) -> None:
        if not self.name.startswith("allocation_bench"):
            raise BenchmarkError(f"refusing to recreate {self.name}: not a benchmark database")
        try:
            with psycopg.connect(self.maintenance_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.name}"')
        except psycopg.OperationalError as error:
            raise BenchmarkError(
                f"PostgreSQL at {self.maintenance_url} is unusable: {error}"
            ) from error

    def drop(self) -> None:
        with psycopg.connect(self.maintenance_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url, autocommit=True)

    def server_major(self) -> int:
        with self.connect() as conn:
            row = conn.execute("SHOW server_version_num").fetchone()
        assert row is not None
        return int(str(row[0])) // 10000

    def pgbench_args(self) -> list[str]:
        parts = urlsplit(self.url)
        args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
        args += ["-U", parts.username or "postgres", self.name]
        return args


def find_pgbench(server_major: int) -> str:
    """pgbench from PATH or PostgreSQL's lib dir; as root on Debian, install it once."""

    def located() -> str | None:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)
        return shutil.which("pgbench") or next(iter(candidates), None)

    if found := located():
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("pgbench is missing: installing it with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

        def apt_get(*args: str) -> None:
            subprocess.run(
                ["apt-get", *args], env=env, check=False,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip

        apt_get("update", "-qq")
        # Debian ships pgbench with the client package on newer releases, with the
        # server package (postgresql-NN) on bookworm; contrib pulls in the latter.
        for package in (f"postgresql-client-{server_major}", "postgresql-contrib"):
            apt_get("install", "-y", "-qq", package)
            if found := located():
                return found
    raise BenchmarkError(
        "pgbench not found: install it (Debian: apt-get install postgresql-contrib, or"
        f" postgresql-client-{server_major} on newer releases) and run the benchmark again"
    )


# -- processes -------------------------------------------------------------------------


@dataclass
class Process:
    """A child process in its own session; ``stop`` ends it and every child it forked."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check(self) -> None:
        if not self.running():
            raise BenchmarkError(f"{self.name} exited; its log:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """SIGSTOP the process and its children for the block, SIGCONT after."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self, timeout: float = 10) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        group = self.process.pid  # start_new_session: the group id is the child's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            self.process.wait(timeout=5)
        # A gunicorn or Celery child that outlived its parent goes with the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


@dataclass(frozen=True)
class ServerOptions:
    """How gunicorn and the Celery worker run.

    gunicorn runs on the project's own settings (``config/gunicorn.py``, as deployed)
    and the Celery worker on ``config.settings``' (``CELERY_WORKER_*``), unless
    overridden here.
    """

    gunicorn_workers: int = deployed.workers
    gunicorn_threads: int = deployed.threads
    gunicorn_class: str = deployed.worker_class
    celery_pool: str = ""
    celery_concurrency: int = 0
    celery_prefetch: int = 0
    db_connections: str = "settings"

    def celery_flags(self) -> list[str]:
        flags = [f"--pool={self.celery_pool}"] if self.celery_pool else []
        if self.celery_concurrency:
            flags.append(f"--concurrency={self.celery_concurrency}")
        if self.celery_prefetch:
            flags.append(f"--prefetch-multiplier={self.celery_prefetch}")
        return flags

    def db_connections_used(self) -> str:
        if self.db_connections != "settings":
            return self.db_connections
        from django.conf import settings

        default = settings.DATABASES["default"]
        if "pool" in default.get("OPTIONS", {}):
            return "psycopg pool (settings)"
        return f"persistent, CONN_MAX_AGE={default.get('CONN_MAX_AGE')} (settings)"

    def describe(self) -> str:
        web = f"gunicorn {self.gunicorn_workers} x {self.gunicorn_class}"
        if self.gunicorn_class == "gthread":
            web += f" ({self.gunicorn_threads} threads)"
        from django.conf import settings

        pool = self.celery_pool or getattr(settings, "CELERY_WORKER_POOL", "prefork")
        concurrency = self.celery_concurrency or getattr(
            settings, "CELERY_WORKER_CONCURRENCY", os.cpu_count()
        )
        prefetch = self.celery_prefetch or getattr(settings, "CELERY_WORKER_PREFETCH_MULTIPLIER", 4)
        return (
            f"{web}; celery {pool} x {concurrency}, prefetch multiplier {prefetch};"
            f" database connections: {self.db_connections_used()}"
        )


class Stack:
    """Redis, gunicorn and a Celery worker on one benchmark database; a context manager."""

    def __init__(
        self, database: Database, options: ServerOptions, workdir: Path, redis_url: str = ""
    ) -> None:
        self.database = database
        self.options = options
        self.workdir = workdir
        self.port = free_port()
        self._redis_url = redis_url
        self._exit = contextlib.ExitStack()
        self.processes: list[Process] = []

    # The context manager stops whatever was started, whatever went wrong.
    def __enter__(self) -> Stack:
        self._exit.__enter__()
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    @property
    def redis_url(self) -> str:
        return self._redis_url

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """What the server processes see: the benchmark database and broker, no debug."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"READ_DATABASE_URL", "API_REQUIRE_TOKEN", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="benchmarks.settings",
            DATABASE_URL=self.database.url,
            REDIS_URL=self.redis_url,
            DEBUG="false",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            BENCH_DB_CONNECTIONS=self.options.db_connections,
        )
        return env

    def _start(self) -> None:
        self.database.create()
        self._exit.callback(self.database.drop)
        self._start_redis()
        self._run("migrate", [sys.executable, "manage.py", "migrate", "--noinput"])
        self._start_gunicorn()
        self._start_celery()
        self._spawn("relay", [sys.executable, "manage.py", "relay_outbox", "--follow"])
        wait_until(self._web_ready, timeout=30, what="gunicorn to answer")

    def _start_redis(self) -> None:
        if self._redis_url:
            return
        binary = shutil.which("redis-server")
        if binary is None:
            # No private server possible: use db 1 of the machine's Redis (tests use db 0).
            self._redis_url = "redis://127.0.0.1:6379/1"
            try:
                redis.Redis.from_url(self._redis_url, socket_connect_timeout=2).flushdb()
            except redis.RedisError as error:
                raise BenchmarkError(
                    f"no redis-server binary and {self._redis_url}: {error}"
                ) from error
            return
        port = free_port()
        server = self._spawn(
            "redis-server",
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
        )
        self._redis_url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis(port=port, socket_connect_timeout=0.5)

        def answers() -> bool:
            server.check()
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_until(answers, timeout=10, what=f"redis-server on port {port}")

    def _start_gunicorn(self) -> None:
        o = self.options
        args = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn.py",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(o.gunicorn_workers),
            "--worker-class",
            o.gunicorn_class,
            "--threads",
            str(o.gunicorn_threads),
            "--backlog",
            "256",
            "--log-level",
            "warning",
            "--timeout",
            "60",
        ]
        self._spawn("gunicorn", args)

    def _start_celery(self) -> None:
        o = self.options
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            *o.celery_flags(),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
            "-n",
            f"bench-{self.port}@%h",
        ]
        self._spawn("celery", args)

    def _web_ready(self) -> bool:
        for process in self.processes:
            process.check()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"GET /bench/ceiling HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                return b" 200 " in s.recv(32)
        except OSError:
            return False

    def _spawn(self, name: str, args: list[str]) -> Process:
        process = Process(name, args, self.env(), self.workdir / f"{name}.log")
        process.start()
        self._exit.callback(process.stop)
        self.processes.append(process)
        return process

    def _run(self, name: str, args: list[str]) -> None:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            done = subprocess.run(
                args, cwd=ROOT, env=self.env(), stdout=out, stderr=out, check=False
            )
        if done.returncode != 0:
            raise BenchmarkError(f"{name} failed; see {log}:\n{log.read_text(errors='replace')}")

    def check(self) -> None:
        for process in self.processes:
            process.check()

    @contextlib.contextmanager
    def pipeline_paused(self) -> Iterator[None]:
        """The relay and the worker stopped, so that PostgreSQL alone is measured."""
        with contextlib.ExitStack() as paused:
            for process in self.processes:
                if process.name in ("relay", "celery"):
                    paused.enter_context(process.paused())
            yield

    def broker(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU time of each of these processes, from /proc (gone ones left out)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state is fields[0]
        found[pid] = (int(fields[11]) + int(fields[12])) / tick
    return found


def group_pids(group: int) -> list[int]:
    """Every live process of a process group (a server and the children it forked)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            found.append(int(entry.name))
    return found


CpuSnapshot = dict[str, dict[int, float]]


class CpuMeter:
    """CPU seconds spent by the web server, the worker and the database's backends.

    CPU per request is what the numbers most depend on and, unlike wall-clock rates,
    it barely moves when something else on the machine competes for the cores.
    Counted per process, so a database connection opened meanwhile counts whole.
    """

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def snapshot(self) -> CpuSnapshot:
        by_name = {p.name: p for p in self.stack.processes}
        taken: CpuSnapshot = {}
        for name, label in (("gunicorn", "web"), ("celery", "worker"), ("relay", "relay")):
            process = by_name[name].process
            assert process is not None
            taken[label] = cpu_seconds(group_pids(process.pid))
        with self.stack.database.connect() as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [self.stack.database.name],
            ).fetchall()
        taken["db"] = cpu_seconds(int(str(pid)) for (pid,) in rows)
        return taken

    @staticmethod
    def spent(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
        return {
            label: sum(cpu - before[label].get(pid, 0.0) for pid, cpu in after[label].items())
            for label in after
        }


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """SIGTERM (CI killing the run) unwinds like Ctrl-C, so ``Stack`` cleans up."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
