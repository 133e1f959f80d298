"""The base of every management command of ours: one contract for bad input.

Django's parser exits with argparse's status 2 and the whole usage on a bad argument,
while a ``CommandError`` from ``handle`` exits 1 with one line. An operator's script
should not have to tell the two apart: here both are one line on stderr and status 1
(the README's promise); ``--help`` still shows the full usage.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

BAD_INPUT = 1
"""The exit status of bad input, as of Django's ``CommandError`` (its ``returncode``)."""


class OperatorCommand(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def error(message: str) -> NoReturn:
            if not parser.called_from_command_line:  # call_command: Django's CommandError
                CommandParser.error(parser, message)
            parser.exit(BAD_INPUT, f"{parser.prog}: error: {message}\n")

        parser.error = error  # type: ignore[method-assign]
        return parser
