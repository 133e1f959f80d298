"""Operators' commands go through the bus and fail with one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from allocation.models import BatchRecord, OrderLineRecord

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_four_commands_change_stock_through_the_bus():
    assert run("add_batch", "b1", "LAMP", "10") == "Added batch b1\n"
    assert run("add_batch", "b2", "LAMP", "10", "--eta", "2031-01-01") == "Added batch b2\n"
    assert run("allocate", "o1", "LAMP", "8") == "Allocated to b1\n"
    assert run("allocate", "o2", "LAMP", "30") == "Out of stock: the line waits for stock\n"
    assert run("change_batch_quantity", "b1", "5") == "Batch b1 now holds 5\n"
    assert OrderLineRecord.objects.get(orderid="o1").batch_id == "b2"
    assert run("deallocate", "o1", "LAMP") == "Deallocated o1 LAMP\n"
    assert not OrderLineRecord.objects.filter(orderid="o1").exists()
    assert "Rebuilt the read model: 1 order(s)" in run("rebuild_read_model")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("allocate", "o1", "NOPE", "1"), "Invalid sku NOPE"),
        (("add_batch", "b1", "LAMP", "5"), "Batch b1 already exists"),
        (("change_batch_quantity", "nope", "5"), "Invalid batch ref nope"),
        (("deallocate", "ghost", "LAMP"), "Order ghost has no line for sku LAMP"),
        (("allocate", "o1", "LAMP", "2"), "already has 1 of LAMP"),
    ],
)
def test_rule_violations_are_command_errors_and_change_nothing(args, message, write_counts):
    run("add_batch", "b1", "LAMP", "5")
    run("allocate", "o1", "LAMP", "1")
    before = write_counts()
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert write_counts() == before


@pytest.mark.parametrize(
    "args",
    [
        ("add_batch", "b1", "LAMP", "0"),
        ("add_batch", "b1", "LAMP", "ten"),
        ("add_batch", "b1", "LAMP", "5", "--eta", "soon"),
        ("allocate", "o1", "LAMP", "-1"),
        ("change_batch_quantity", "b1", "-3"),
        ("allocate", " padded", "LAMP", "1"),
    ],
)
def test_bad_arguments_exit_non_zero_with_one_line(args):
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite:////nonexistent/never-opened"},
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"manage.py {args[0]}: error: argument")
    assert not BatchRecord.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("allocate", "o1", "LAMP", "0"), "argument qty: must be greater than or equal to 1"),
        (("add_batch", "b1", "LAMP", "ten"), "argument qty: must be an integer"),
        (("add_batch", "b1", "LAMP", "1", "--eta", "2031-1-2"), "must be a date YYYY-MM-DD$"),
        (("change_batch_quantity", "b1", "-3"), "argument qty: must be greater than or equal to 0"),
        (("deallocate", " o1", "LAMP"), "argument orderid: must have no outer spaces"),
        (("add_batch", "x" * 256, "LAMP", "1"), "argument ref: must be at most 255 characters"),
    ],
)
def test_bad_arguments_say_what_the_input_rules_say(args, message, write_counts):
    before = write_counts()
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert write_counts() == before


def test_consume_events_needs_redis():
    with override_settings(REDIS_URL=""), pytest.raises(CommandError, match="REDIS_URL"):
        run("consume_events")


def test_relay_outbox_reports_what_it_sent():
    assert run("relay_outbox") == "Sent 0 event(s); 0 not applied yet\n"
