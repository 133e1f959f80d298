"""Batches from a CSV file: read it, check every row, then send each row to the bus.

Two steps, and what each promises:

- **Checked as a whole.** Every row is checked with the add-batch form's own rules
  (``BatchRowForm``), plus what only the file shows: a reference twice in it,
  or one the read model already holds. One bad row and nothing is imported: the
  preview lists every bad row, by its line in the file, and the file must be fixed
  and uploaded again.
- **Imported row by row.** Each row is one ``CreateBatch`` command through the bus, its
  own transaction, as if typed in the form. A row the bus refuses then (someone
  added that reference since the check, or the read model had not shown it yet)
  changes nothing and is reported; the other rows are imported. One transaction for
  the whole file would hold every SKU it touches locked from the first row to the
  last, stopping allocations to them for as long as a large import runs.

The checked rows travel from the preview to the import as JSON in the page (no state
on the server between the two requests), and are checked again when they come back;
the page's script sends them in slices (``IMPORT_SLICE`` rows) to show a progress bar.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.conf import settings

from allocation.domain import commands
from allocation.entrypoints import inputs
from allocation.entrypoints.forms import BatchForm
from allocation.entrypoints.list_filters import day_field
from allocation.service_layer.actor import Actor
from allocation.service_layer.messagebus import MessageBus
from orders_read.selectors import stock

COLUMNS = ("ref", "sku", "qty", "eta")
REQUIRED = ("ref", "sku", "qty")
IMPORT_SLICE = 200
"""Rows the page's script sends per request: a request each second or so, a bar that moves."""
LOOKUP_CHUNK = 500


class BadFile(ValueError):
    """The file as a whole cannot be read (not CSV, not UTF-8, wrong columns, too big)."""


@dataclass
class Row:
    line: int
    """The row's line in the file, the header being line 1: what a spreadsheet shows."""
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)
    command: commands.CreateBatch | None = None
    new_sku: bool = False


@dataclass
class Checked:
    rows: list[Row]

    @property
    def bad(self) -> list[Row]:
        return [row for row in self.rows if row.errors]

    @property
    def commands(self) -> list[commands.CreateBatch]:
        return [row.command for row in self.rows if row.command is not None]

    @property
    def new_skus(self) -> list[str]:
        return sorted({row.values["sku"] for row in self.rows if row.new_sku})

    def units(self) -> int:
        return sum(command.qty for command in self.commands)

    def to_json(self) -> str:
        """The rows, for the import step: ``[[line, ref, sku, qty, eta], ...]``."""
        return json.dumps([[row.line, *(row.values[c] for c in COLUMNS)] for row in self.rows])


class BatchRowForm(BatchForm):
    """The add-batch form's fields (its new-SKU box is the preview's list of new SKUs
    here), the ETA written ``YYYY-MM-DD`` only: in a file typed by hand, ``01/05/2031``
    could be either of two days (the form's date box always sends ``YYYY-MM-DD``)."""

    eta = day_field("ETA")


def size_limit() -> int:
    """The largest file taken: its rows must come back from the preview as one form
    field, which Django refuses past ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440
    return int(limit * 0.8)  # the JSON says each row's line number too


def read_csv(content: bytes) -> Checked:
    """The file's rows, checked; ``BadFile`` when the file itself is unusable."""
    if len(content) > size_limit():
        raise BadFile(
            f"The file has {len(content):,} bytes; at most {size_limit():,} are taken at once:"
            " split it."
        )
    try:
        text = content.decode("utf-8-sig")  # with or without the BOM spreadsheets write
    except UnicodeDecodeError as error:
        raise BadFile(f"The file is not UTF-8 text (byte {error.start + 1}).") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in REQUIRED if name not in header]
        unknown = [name for name in header if name not in COLUMNS]
        if missing or unknown or len(set(header)) != len(header):
            raise BadFile(
                "The first line must name the columns ref, sku, qty and optionally eta"
                f" (it has: {', '.join(header) or 'nothing'})."
            )
        rows = list(_rows(reader, header))
    except csv.Error as error:
        raise BadFile(f"Line {reader.line_num}: not CSV ({error}).") from None
    if not rows:
        raise BadFile("The file has no rows under its header.")
    return check(rows)


def _rows(reader: Iterator[list[str]], header: Sequence[str]) -> Iterator[Row]:
    line = 1
    for cells in reader:
        line += 1
        if not any(cell.strip() for cell in cells):
            continue  # an empty line, as spreadsheets leave at the end
        values = dict.fromkeys(COLUMNS, "") | dict(zip(header, cells, strict=False))
        row = Row(line, {name: values[name] for name in COLUMNS})
        if len(cells) > len(header):
            row.errors.append(f"{len(cells)} cells for {len(header)} columns.")
        yield row


def read_json(text: str) -> Checked:
    """The rows the preview handed on (``Checked.to_json``), checked again."""
    try:
        items = json.loads(text)
        rows = [
            Row(int(line), dict(zip(COLUMNS, map(str, cells), strict=True)))
            for line, *cells in items
        ]
    except (ValueError, TypeError) as error:
        raise BadFile(f"The rows sent are not the preview's ({error}).") from None
    if not rows:
        raise BadFile("No rows were sent.")
    return check(rows)


def check(rows: list[Row]) -> Checked:
    """Each row by the add-batch form's rules, then the references against the file
    and the read model, and which SKUs are new."""
    first_line: dict[str, int] = {}
    for row in rows:
        form = BatchRowForm(data=row.values)
        if not form.is_valid():
            row.errors += [
                f"{form.fields[name].label}: {message}"
                for name, messages in form.errors.items()
                for message in messages
            ]
            continue
        ref = form.cleaned_data["ref"]
        if ref in first_line:
            row.errors.append(f"Batch {ref} is on line {first_line[ref]} already.")
        first_line.setdefault(ref, row.line)
        if not row.errors:
            row.command = form.command()
    valid = [row for row in rows if row.command is not None]
    existing = _found(stock.existing_batches, [row.command.ref for row in valid if row.command])
    known = _found(stock.known_skus, [row.command.sku for row in valid if row.command])
    for row in valid:
        assert row.command is not None
        if row.command.ref in existing:
            row.errors.append(f"Batch {row.command.ref} already exists.")
            row.command = None
        else:
            row.new_sku = row.command.sku not in known
    return Checked(rows)


def _found(lookup: Callable[[list[str]], set[str]], keys: Iterable[str]) -> set[str]:
    """``lookup`` by chunks: SQLite takes a bounded number of parameters."""
    wanted = sorted(set(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        found |= lookup(wanted[start : start + LOOKUP_CHUNK])
    return found


@dataclass(frozen=True)
class Refused:
    line: int
    ref: str
    message: str


@dataclass(frozen=True)
class Imported:
    count: int
    refused: list[Refused]


def import_rows(checked: Checked, bus: MessageBus, actor: Actor) -> Imported:
    """Each good row as one command for ``actor``; a row found bad again, or refused by
    the bus, is reported and changes nothing (see the module's docstring)."""
    count, refused = 0, []
    for row in checked.rows:
        if row.command is None:
            refused.append(Refused(row.line, row.values["ref"], " ".join(row.errors)))
            continue
        try:
            bus.handle(row.command, actor)
        except inputs.CLIENT_ERRORS as error:
            refused.append(Refused(row.line, row.command.ref, str(error)))
        else:
            count += 1
    return Imported(count, refused)
