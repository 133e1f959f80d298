import json
from typing import Any

import redis
from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from allocation.entrypoints import redis_streams
from allocation.entrypoints.inputs import Count
from allocation.entrypoints.management.bus_command import argument
from allocation.entrypoints.management.operator_command import OperatorCommand

MAX_SHOWN = 10_000


class Command(OperatorCommand):
    help = (
        f"Show the commands parked in the Redis stream '{redis_streams.DEAD_LETTERS}', oldest"
        " first, one JSON object a line: the dead letter's id, its fields and why it failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--count",
            type=argument(Count(minimum=1, maximum=MAX_SHOWN), int),
            default=100,
            help=f"show at most this many (1-{MAX_SHOWN})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REDIS_URL:
            raise CommandError("REDIS_URL is not set: there is no Redis to read")
        try:
            client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
            with client:
                letters = redis_streams.dead_letters(client, options["count"])
                total = client.xlen(redis_streams.DEAD_LETTERS)
        except redis.RedisError as error:
            raise CommandError(f"Redis unreachable: {error}") from None
        for message_id, fields in letters:
            self.stdout.write(json.dumps({"id": message_id, **fields}, ensure_ascii=False))
        self.stderr.write(f"{len(letters)} of {total} dead letters shown")
