"""``manage.py create_database``: create the PostgreSQL database ``DATABASE_URL`` names.

PostgreSQL, unlike SQLite, does not create a database on first use, and ``migrate``
against a missing one fails (``make db`` runs this first).
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.core.management.base import CommandError, CommandParser
from django.db import connections
from psycopg import sql

from allocation.entrypoints.checks import first_line
from allocation.entrypoints.management.operator_command import OperatorCommand


class Command(OperatorCommand):
    help = "Create the PostgreSQL database of DATABASE_URL (or --database) if it is missing."
    requires_system_checks: list[str] = []  # the checks would fail on the missing database

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default", help="the alias (default: default)")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            self.stdout.write(f"Nothing to create: {connection.vendor} creates it on first use")
            return
        params = connection.get_connection_params()
        name = params["dbname"]
        # The server's maintenance database: the one that always exists.
        try:
            with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as admin:
                if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                    self.stdout.write(f"Database {name} already exists")
                    return
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as error:
            raise CommandError(f"Could not create database {name}: {first_line(error)}") from None
        self.stdout.write(f"Created database {name}")
