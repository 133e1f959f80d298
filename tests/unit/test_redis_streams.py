"""A stream entry becomes ChangeBatchQuantity under the API's input rules, or is refused
in one sentence (which the dead letter keeps as its ``error``)."""

import pytest

from allocation.adapters.inbox import entry_position
from allocation.domain.commands import ChangeBatchQuantity
from allocation.entrypoints import inputs, redis_streams


def test_an_entry_becomes_change_batch_quantity():
    fields = {b"batchref": b"b1", b"qty": b"5", b"sent_by": b"erp"}
    assert redis_streams.parse(fields) == ChangeBatchQuantity("b1", 5)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({b"data": b'{"batchref": "b1", "qty": 5}'}, "Missing field 'batchref'"),
        ({b"batchref": b"b1"}, "Missing field 'qty'"),
        ({b"qty": b"1"}, "Missing field 'batchref'"),
        (
            {b"batchref": b"b1", b"qty": b"five"},
            "Field 'qty' must be a decimal integer, got 'five'",
        ),
        ({b"batchref": b"b1", b"qty": b"1.5"}, "Field 'qty' must be a decimal integer, got '1.5'"),
        ({b"batchref": b"b1", b"qty": b" 1"}, "Field 'qty' must be a decimal integer, got ' 1'"),
        ({b"batchref": b"b1", b"qty": b"-1"}, "Field 'qty' must be greater than or equal to 0"),
        ({b"batchref": b"b1", b"qty": b"2147483648"}, "must be less than or equal to 2147483647"),
        ({b"batchref": b" b1", b"qty": b"1"}, "Field 'batchref' must have no outer spaces"),
        ({b"batchref": b"", b"qty": b"1"}, "Field 'batchref' must be a non-empty string"),
        ({b"batchref": b"\xff", b"qty": b"1"}, "The message is not valid UTF-8"),
        ({b"batchref": b"b" * 1_000_000, b"qty": b"1"}, "must be at most 255 characters"),
    ],
)
def test_a_bad_entry_is_refused_in_the_rules_words(fields, problem):
    with pytest.raises(inputs.BadInput) as refused:
        redis_streams.parse(fields)
    assert str(refused.value).endswith(problem)
    assert len(str(refused.value)) < 300  # a 1 MB field is not copied into the error


def test_a_huge_value_is_shortened_in_log_lines():
    text = redis_streams.brief("x" * 1_000_000)
    assert len(text) < 300
    assert text.endswith("(1000002 characters)")


@pytest.mark.parametrize(
    ("earlier", "later"),
    [("1-0", "1-1"), ("1-9", "2-0"), ("9-0", "10-0"), ("1700000000000-5", "1700000000001-0")],
)
def test_entry_ids_compare_in_the_streams_order(earlier, later):
    assert entry_position(earlier) < entry_position(later)


@pytest.mark.parametrize("text", ["1-0", "1700000000000-12"])
def test_an_entry_id_is_accepted(text):
    assert redis_streams.entry_id(text) == text


@pytest.mark.parametrize("text", ["", "1", "-1", "1-", "a-b", "1-2-3", "$", "1 -2"])
def test_anything_else_is_not_an_entry_id(text):
    with pytest.raises(inputs.BadInput, match="must be a stream entry id"):
        redis_streams.entry_id(text)
