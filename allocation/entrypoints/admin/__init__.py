"""The admin: staff's view of both sides (``write_side`` acts through the bus)."""

from allocation.entrypoints.admin import read_side, write_side

__all__ = ["read_side", "write_side"]
