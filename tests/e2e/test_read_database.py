"""The read model in its own PostgreSQL database, fed by two worker processes.

Black box: fresh write and read databases, migrations run per database, gunicorn, the
relay and two Celery workers as processes, driven over HTTP. Then the broker loses
what it held (workers down, Redis flushed): the reconciler, comparing positions across
the two databases, resends it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from django.conf import settings

from tests.processes import (
    ROOT,
    Gunicorn,
    Process,
    RedisServer,
    Relay,
    Worker,
    stack_env,
    start_together,
    stop_together,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "a-long-enough-horse-battery"
READ_TABLES = ("orders_read_orderlineview", "orders_read_eventlog", "orders_read_skustock")


def server_url(dbname: str) -> str:
    db = settings.DATABASES["default"]
    user, host, port = db.get("USER") or "postgres", db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{dbname}"


@pytest.fixture
def split_databases() -> Iterator[dict[str, str]]:
    names = {
        "DATABASE_URL": f"split_write_{os.getpid()}",
        "READ_DATABASE_URL": f"split_read_{os.getpid()}",
    }
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        for name in names.values():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
    yield {var: server_url(name) for var, name in names.items()}
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        for name in names.values():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {name for (name,) in rows}


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0


def positions(url: str) -> dict[str, int]:
    """Per SKU: the write side's version, or the read side's applied position."""
    table = "allocation_product" if "write" in url else "orders_read_appliedposition"
    column = "version_number" if "write" in url else "version"
    with psycopg.connect(url) as conn:
        return dict(conn.execute(f"SELECT sku, {column} FROM {table}").fetchall())


def read_rows(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {
            "lines": sorted(conn.execute(
                "SELECT orderid, sku, qty, status, batchref, arrival"
                " FROM orders_read_orderlineview")),
            "stock": sorted(conn.execute(
                "SELECT sku, purchased, allocated, available, waiting FROM orders_read_skustock")),
            "events": sorted(conn.execute("SELECT sku, version, name FROM orders_read_eventlog")),
        }  # fmt: skip


def test_whole_pipeline_with_a_separate_read_database_and_two_workers(
    split_databases: dict[str, str], private_redis: RedisServer, tmp_path: Path
):
    env = {**os.environ, **stack_env(private_redis.url, split_databases)}
    migrations = [  # one per database, side by side
        subprocess.Popen([sys.executable, "manage.py", *args, "-v0"], cwd=ROOT, env=env)
        for args in (["migrate"], ["migrate", "--database", "read"])
    ]
    assert [migration.wait(timeout=120) for migration in migrations] == [0, 0]
    create_user = (
        "from django.contrib.auth.models import User;"
        f" User.objects.create_user('viewer', password='{PASSWORD}')"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", create_user], cwd=ROOT, env=env, check=True
    )
    write_tables, read_tables = (
        tables(split_databases["DATABASE_URL"]),
        tables(split_databases["READ_DATABASE_URL"]),
    )
    assert "allocation_product" in write_tables
    assert not write_tables & set(READ_TABLES)
    assert set(READ_TABLES) <= read_tables
    assert "allocation_product" not in read_tables

    started: list[Process] = []
    try:
        workers = [
            Worker(private_redis.url, tmp_path / f"w{n}.log", databases=split_databases, wait=False)
            for n in range(2)
        ]
        started += workers
        relay = Relay(
            private_redis.url,
            tmp_path / "relay.log",
            databases=split_databases,
            reconcile_after=1,
            wait=False,
        )
        started.append(relay)
        web = Gunicorn(
            private_redis.url, tmp_path / "web.log", databases=split_databases, wait=False
        )
        started.append(web)
        start_together(*started)
        port = web.port
        api = f"{web.url}/api"
        wait_until(lambda: _up(f"{web.url}/healthz"), what="gunicorn to serve")
        session = requests.Session()
        assert (
            session.post(
                f"{api}/add_batch", json={"ref": "wh", "sku": "LAMP", "qty": 20, "eta": None}
            ).status_code
            == 201
        )
        assert (
            session.post(
                f"{api}/add_batch",
                json={"ref": "ship", "sku": "LAMP", "qty": 50, "eta": "2031-05-01"},
            ).status_code
            == 201
        )
        for n in range(30):
            response = session.post(
                f"{api}/allocate", json={"orderid": f"o{n}", "sku": "LAMP", "qty": 2}
            )
            assert response.status_code == 202
            assert session.get(f"{api}/allocations/o{n}").status_code == 200  # read-your-writes
        assert (
            session.post(f"{api}/change_batch_quantity", json={"ref": "wh", "qty": 4}).status_code
            == 200
        )
        assert session.get(f"{api}/allocations/o29").json() == [{"sku": "LAMP", "batchref": "ship"}]
        assert session.get(f"{api}/orders/o29").json()["lines"] == [
            {"sku": "LAMP", "qty": 2, "status": "allocated", "batchref": "ship"}
        ]
        page = logged_in(f"http://127.0.0.1:{port}").get(f"http://127.0.0.1:{port}/orders/o29/")
        assert page.status_code == 200
        assert "2 x LAMP allocated to batch ship" in page.text  # the history, read side
        wait_until(
            lambda: (
                count(split_databases["READ_DATABASE_URL"], "orders_read_eventlog")
                == count(split_databases["DATABASE_URL"], "allocation_outbox")
            ),
            what="the workers to project every event",
        )
        ready = session.get(f"http://127.0.0.1:{port}/readyz").json()
        assert ready["checks"]["database:read"] == "ok"
        assert ready["checks"]["read_model_lag"] == "ok"

        # The broker loses what it holds: no worker takes it, then Redis is flushed.
        for worker in workers:
            worker.kill()
        for n in range(30, 35):
            body = {"orderid": f"o{n}", "sku": "LAMP", "qty": 1}
            assert session.post(f"{api}/allocate", json=body).status_code == 202
        broker = redis.Redis.from_url(private_redis.url)
        wait_until(lambda: broker.llen("celery") > 0, what="the relay to hand the events over")
        broker.flushall()
        started.append(
            Worker(private_redis.url, tmp_path / "w-after.log", databases=split_databases)
        )
        wait_until(
            lambda: (
                positions(split_databases["READ_DATABASE_URL"])
                == positions(split_databases["DATABASE_URL"])
            ),
            timeout=30,
            what="the reconciler to resend what the broker lost",
        )
        assert "resent" in relay.output()
        assert session.get(f"{api}/orders/o34").json()["lines"] == [
            {"sku": "LAMP", "qty": 1, "status": "waiting", "batchref": None}
        ]
    finally:
        stop_together(started)

    incremental = read_rows(split_databases["READ_DATABASE_URL"])
    assert len(incremental["lines"]) == 35
    # wh shrank from 20 to 4: 8 of its 10 lines were evicted, 5 fit in ship, 3 wait.
    # Then five more of 1 wait too.
    assert incremental["stock"] == [("LAMP", 54, 54, 0, 11)]
    assert sum(1 for line in incremental["lines"] if line[3] == "waiting") == 8
    subprocess.run(
        [sys.executable, "manage.py", "rebuild_read_model"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    assert read_rows(split_databases["READ_DATABASE_URL"]) == incremental


def logged_in(site: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{site}/accounts/login/")
    form = {"username": "viewer", "password": PASSWORD}
    form["csrfmiddlewaretoken"] = session.cookies["csrftoken"]
    assert session.post(f"{site}/accounts/login/", data=form).url == f"{site}/"
    return session


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
