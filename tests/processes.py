"""The stack's processes for end-to-end and chaos tests: each one real, killable.

Workers, relays, gunicorn and consumers run on the test database as subprocesses; a
private redis-server lets a test stop and restart (or wipe) the broker for real,
without touching the shared one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

import redis
from django.conf import settings

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]


def database_url(alias: str = "default") -> str:
    db = settings.DATABASES[alias]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """A process of the stack on the test database, logging to ``log``; killable."""

    READY = ""
    """What the process prints once it is up."""

    def __init__(
        self, argv: list[str], env: dict[str, str], log: Path, what: str, wait: bool = True
    ) -> None:
        """Started; with ``wait=False`` not yet up (``start_together`` waits for it)."""
        self.log = log
        self.what = what
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, **env}, stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        if wait:
            self.wait_until_up()

    def up(self) -> bool:
        return self.READY in self.output()

    def wait_until_up(self) -> None:
        wait_until(lambda: self.up() or self.process.poll() is not None, timeout=30,
                   what=self.what)  # fmt: skip
        assert self.process.poll() is None, self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def pause(self) -> None:
        """Frozen, as a process the scheduler or a debugger holds: alive, doing nothing."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        stop_together([self])


def start_together(*processes: Process) -> None:
    """Wait for processes made with ``wait=False``: their start-ups (a second or two of
    imports and connections each) overlap instead of adding up."""
    for process in processes:
        process.wait_until_up()


def stop_together(processes: Iterable[Process]) -> None:
    """SIGTERM to each, then wait for each (SIGKILL after 15 s): the shutdowns overlap."""
    running = [p for p in processes if p.process.poll() is None]
    for process in running:
        process.process.terminate()
    for process in running:
        try:
            process.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def stack_env(broker_url: str, databases: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **(databases or {"DATABASE_URL": database_url()}),
        "DJANGO_SETTINGS_MODULE": "config.settings",  # not the test run's (tests/settings.py)
        "REDIS_URL": broker_url,
        "LOG_LEVEL": "INFO",
    }


class Worker(Process):
    """A ``celery -A config worker`` process on the test database."""

    READY = "ready."

    def __init__(
        self,
        broker_url: str,
        log: Path,
        visibility_timeout: int = 3600,
        databases: dict[str, str] | None = None,
        pool: str = "solo",
        wait: bool = True,
    ) -> None:
        env = {
            **stack_env(broker_url, databases),
            "CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout),
            "CELERY_UNACKED_RESTORE_INTERVAL": "1",
            "CELERY_UNACKED_RESTORE_THROTTLE": "1",
        }
        argv = [sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={pool}",
                "--without-gossip", "--without-mingle", "--loglevel=INFO"]  # fmt: skip
        super().__init__(argv, env, log, "the Celery worker to start", wait)


class Relay(Process):
    """``manage.py relay_outbox --follow``: hands the outbox to the workers, reconciles."""

    READY = "relay: following the outbox"

    def __init__(
        self,
        broker_url: str,
        log: Path,
        databases: dict[str, str] | None = None,
        reconcile_after: float = 10.0,
        metrics_port: int = 0,
        application_name: str = "allocation",
        wait: bool = True,
    ) -> None:
        env = {
            **stack_env(broker_url, databases),
            "RECONCILE_AFTER": str(reconcile_after),
            "RECONCILE_EVERY": str(min(reconcile_after / 2, 5.0)),
            "DB_APPLICATION_NAME": application_name,
        }
        argv = [sys.executable, "manage.py", "relay_outbox", "--follow",
                f"--metrics-port={metrics_port}"]  # fmt: skip
        super().__init__(argv, env, log, "the relay to start", wait)


class RedisServer:
    """A private redis-server, so fault tests can stop and restart the broker for real."""

    def __init__(self, port: int, workdir: Path, appendonly: bool = False) -> None:
        self.port = port
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        # As production runs it (compose), but writing each command through to the file
        # before answering, so that even a SIGKILL loses nothing acknowledged.
        self.persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if appendonly
            else ["--appendonly", "no"]
        )  # fmt: skip

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *self.persistence, "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self.ping, timeout=10, what=f"redis-server on {self.port}")

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def pause(self) -> None:
        """Unreachable but not gone (a network partition): connections hang, data stays."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        wait_until(self.ping, timeout=10, what=f"redis-server on {self.port} to answer")


class Gunicorn(Process):
    """gunicorn as deployed (``config/gunicorn.py``) on a free port and with fewer
    workers; they can be killed one by one."""

    READY = "Booting worker"

    def __init__(
        self,
        broker_url: str,
        log: Path,
        databases: dict[str, str] | None = None,
        workers: int = 2,
        threads: int = 4,
        wait: bool = True,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "--bind",
                f"127.0.0.1:{self.port}", "--workers", str(workers), "--threads", str(threads),
                "--no-control-socket"]  # fmt: skip
        super().__init__(argv, stack_env(broker_url, databases), log, "gunicorn to start", wait)

    def worker_pids(self) -> list[int]:
        """Its workers: the processes whose parent is the gunicorn master."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return sorted(children)


class Consumer(Process):
    """``manage.py consume_events``: Redis ``change_batch_quantity`` messages, on the
    pub/sub channel and the stream, to commands."""

    def __init__(
        self, broker_url: str, log: Path, env: dict[str, str] | None = None, wait: bool = True
    ) -> None:
        argv = [sys.executable, "manage.py", "consume_events"]
        super().__init__(argv, {**stack_env(broker_url), **(env or {})}, log,
                         "the consumer to subscribe and read", wait)  # fmt: skip

    def up(self) -> bool:
        """Subscribed to the channel and reading the stream: both halves are up."""
        output = self.output()
        return "listening on" in output and "reading stream" in output


class TcpProxy:
    """A TCP relay to ``target_port`` that a test can cut (every connection dropped,
    new ones refused) and restore, to make a server unreachable for one process only."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        assert self._listener is not None
        with self._lock:
            self._listener.close()
            self._listener = None
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # cut
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                if self._listener is not listener:  # cut meanwhile: this one goes too
                    client.close()
                    server.close()
                    return
                self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
