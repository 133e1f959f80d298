"""Base for management commands that send one command through the message bus."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.management.base import CommandError, CommandParser

from allocation.bootstrap import bootstrap
from allocation.domain.commands import Command
from allocation.entrypoints import actors, inputs
from allocation.entrypoints.management.operator_command import OperatorCommand
from allocation.service_layer.actor import Actor

T = TypeVar("T")


def argument(
    rule: Callable[[object], T], parse: Callable[[str], object] = str
) -> Callable[[str], T]:
    """An input rule as an argparse ``type=``: its refusal is argparse's one-line error.

    ``parse`` turns the text into what the rule checks (``int`` for quantities); text it
    cannot parse goes to the rule as it is, which refuses it in its own words ("must be
    an integer").
    """

    def convert(text: str) -> T:
        try:
            value = parse(text)
        except ValueError:
            value = text
        try:
            return rule(value)
        except inputs.BadInput as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


class BusCommand(OperatorCommand):
    """Sends its command for the operator (``--as NAME``, else the login name, as the
    histories show it), and turns the bus's refusals into one line on stderr and exit
    status 1, as bad arguments are (``OperatorCommand``)."""

    actor: Actor

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument(
            "--as",
            dest="operator",
            metavar="NAME",
            type=argument(inputs.person),
            help="who runs it, as the histories show it (default: your login name)",
        )
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        self.actor = actors.of_operator(options.get("operator"))
        return super().execute(*args, **options)

    def dispatch(self, command: Command) -> Any:
        try:
            return bootstrap().handle(command, self.actor)
        except inputs.CLIENT_ERRORS as error:
            raise CommandError(str(error)) from error
