"""The benchmark still runs end to end: ``python -m benchmarks.run --smoke`` (~10 s).

Its numbers mean nothing at these counts; what CI checks is that the command starts
its own database, Redis, gunicorn and Celery worker, goes through every phase, prints
every table and stops everything it started. The real run is ``make benchmark``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]

HEADINGS = [
    "## Allocation service benchmark",
    "### Allocate: POST /api/allocate",
    "### Reads: 8 clients",
    "### Projection lag:",
    "### History scaling:",
    "### Ceiling: pgbench",
    "### Targets",
]


def test_the_benchmark_smoke_run_prints_every_table():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        # A database of this run's own: two runs at once (two checkouts) would otherwise
        # drop each other's allocation_bench_smoke halfway through.
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--smoke",
            "--database",
            f"allocation_bench_smoke_{os.getpid()}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-3000:]}"
    missing = [heading for heading in HEADINGS if heading not in done.stdout]
    assert not missing, f"missing {missing} in:\n{done.stdout}"
    # Exact even in a short run: a change that adds a round trip to a command fails here.
    assert "allocate 2, deallocate 2, change_batch_quantity 3, add_batch 3" in done.stdout
    assert "server logs:" not in done.stderr  # printed only when something failed
