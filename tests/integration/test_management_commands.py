"""Operators' commands go through the bus and fail with one clear line."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError
from django.test import override_settings

from allocation.entrypoints.redis_consumer import consume
from allocation.entrypoints.redis_streams import StreamConsumer
from allocation.models import BatchRecord, OrderLineRecord

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
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
    assert result.returncode == 1  # as the README says, and as a rule violation exits
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


OURS = sorted(name for name, app in get_commands().items() if app == "allocation.entrypoints")


def from_command_line(name: str, *args: str) -> int:
    """Run the command as ``manage.py`` does (in this process); its exit status."""
    command = load_command_class("allocation.entrypoints", name)
    with pytest.raises(SystemExit) as exited:
        command.run_from_argv(["manage.py", name, *args])
    return int(exited.value.code or 0)


def test_the_commands_below_are_found_not_an_empty_list():
    assert {"add_batch", "create_api_token", "rebuild_read_model", "relay_outbox"} <= set(OURS)


@pytest.mark.parametrize("name", OURS)
def test_every_command_refuses_a_bad_argument_with_one_line_and_status_1(name, capsys):
    assert from_command_line(name, "--no-such-option") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"manage.py {name}: error: ")
    assert err.count("\n") == 1  # one line
    assert err.endswith("\n")


def test_a_missing_argument_is_one_line_and_status_1_too(capsys):
    assert from_command_line("allocate", "o1") == 1
    err = capsys.readouterr().err
    assert err == "manage.py allocate: error: the following arguments are required: sku, qty\n"


def test_an_error_of_the_command_itself_is_status_1(capsys):
    assert from_command_line("create_api_token", "ghost") == 1
    assert capsys.readouterr().err == "CommandError: No user ghost\n"


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def two_orders() -> None:
    run("add_batch", "b1", "LAMP", "10")
    run("allocate", "o1", "LAMP", "1")
    run("allocate", "o2", "LAMP", "1")


def test_rebuild_read_model_quiet_prints_nothing(two_orders, capsys):
    out, err = StringIO(), Terminal()
    call_command("rebuild_read_model", verbosity=0, stdout=out, stderr=err)
    assert (out.getvalue(), err.getvalue(), *capsys.readouterr()) == ("", "", "", "")


def test_rebuild_read_model_shows_its_progress_on_a_terminal_only(two_orders, capsys):
    out, log = StringIO(), StringIO()
    call_command("rebuild_read_model", stdout=out, stderr=log)
    assert out.getvalue() == "Rebuilt the read model: 2 order(s)\n"
    assert (log.getvalue(), *capsys.readouterr()) == ("", "", "")

    terminal = Terminal()
    call_command("rebuild_read_model", stdout=StringIO(), stderr=terminal)
    assert terminal.getvalue() == f"\rorders [{'#' * 30}] 2/2\n"


@pytest.mark.redis
@pytest.mark.usefixtures("streams")
def test_consume_events_check_says_whether_this_hosts_consumer_listens():
    with pytest.raises(CommandError, match="is not subscribed to change_batch_quantity"):
        run("consume_events", "--check")
    stop, subscribed, reading = threading.Event(), threading.Event(), threading.Event()
    subscriber = threading.Thread(
        target=consume, args=(settings.REDIS_URL, stop), kwargs={"on_ready": subscribed.set}
    )
    subscriber.start()
    try:
        assert subscribed.wait(timeout=10)
        with pytest.raises(CommandError, match="no consumer of this host is reading"):
            run("consume_events", "--check")
        stream = StreamConsumer(
            settings.REDIS_URL, stop, claim_idle=60, max_attempts=5, on_ready=reading.set
        )
        reader = threading.Thread(target=stream.run)
        reader.start()
        assert reading.wait(timeout=10)
        assert run("consume_events", "--check") == (
            f"consume_events@{socket.gethostname()} is listening on change_batch_quantity"
            " and reading change_batch_quantity\n"
        )
    finally:
        stop.set()
        subscriber.join(timeout=10)
        if reading.is_set():
            reader.join(timeout=10)
