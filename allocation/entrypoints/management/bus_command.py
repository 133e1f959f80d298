"""Base for management commands that send one command through the message bus."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from allocation.bootstrap import bootstrap
from allocation.domain.commands import Command
from allocation.entrypoints import inputs


def positive_int(value: str) -> int:
    return _int(value, minimum=1)


def non_negative_int(value: str) -> int:
    return _int(value, minimum=0)


def _int(value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {number}")
    return number


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date YYYY-MM-DD") from None


def text(value: str) -> str:
    if not value.strip() or len(value) > inputs.MAX_TEXT or value != value.strip():
        raise argparse.ArgumentTypeError("must be 1 to 255 characters, no outer spaces")
    return value


class BusCommand(BaseCommand):
    """Turns rule violations into one line on stderr and exit status 1."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # A bad argument is one line ("...: error: argument qty: must be at least 1");
        # --help still shows the full usage.
        parser.print_usage = lambda file=None: None  # type: ignore[method-assign]
        return parser

    def dispatch(self, command: Command) -> Any:
        try:
            return bootstrap().handle(command)
        except inputs.CLIENT_ERRORS as error:
            raise CommandError(str(error)) from error
