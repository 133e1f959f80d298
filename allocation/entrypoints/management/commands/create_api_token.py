from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from allocation.adapters import tokens
from allocation.entrypoints.management.operator_command import OperatorCommand


class Command(OperatorCommand):
    help = "Issue an API token for a user; it is printed once and stored only as a hash."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="api", help="what the token is for")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']}")
        self.stdout.write(tokens.issue(user, options["name"]))
