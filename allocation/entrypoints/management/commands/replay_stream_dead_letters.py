from typing import Any

import redis
from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from allocation.entrypoints import redis_streams
from allocation.entrypoints.management.bus_command import argument
from allocation.entrypoints.management.operator_command import OperatorCommand


class Command(OperatorCommand):
    help = (
        f"Send dead letters of '{redis_streams.DEAD_LETTERS}' back to the stream"
        f" '{redis_streams.STREAM}' (without their error), once their cause is fixed, and"
        " delete them; each becomes a new entry, applied after what the stream already holds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "ids", nargs="*", type=argument(redis_streams.entry_id), help="dead letters' ids"
        )
        parser.add_argument("--all", action="store_true", help="every dead letter")

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["ids"]) == options["all"]:
            raise CommandError("give the dead letters' ids, or --all (not both)")
        if not settings.REDIS_URL:
            raise CommandError("REDIS_URL is not set: there is no Redis to replay to")
        try:
            client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
            with client:
                replayed = redis_streams.replay(client, None if options["all"] else options["ids"])
        except LookupError as error:
            raise CommandError(str(error)) from None
        except redis.RedisError as error:
            raise CommandError(f"Redis unreachable: {error}") from None
        for dead, new in replayed:
            self.stdout.write(f"{dead} -> {redis_streams.STREAM} {new}")
        self.stderr.write(f"{len(replayed)} dead letters replayed")
