"""The timeline's sentences come from the events themselves, read back from the log."""

from allocation.entrypoints.templatetags.ui import describe
from orders_read.models import EventLog


def test_a_logged_event_reads_as_its_sentence():
    entry = EventLog(
        name="Allocated",
        sku="LAMP",
        version=3,
        payload={"orderid": "o1", "qty": 2, "batchref": "b1"},
    )
    assert describe(entry) == "2 x LAMP allocated to batch b1"


def test_an_event_this_code_cannot_read_still_shows():
    renamed = EventLog(name="LineTeleported", sku="LAMP", version=4, payload={"to": "mars"})
    assert describe(renamed) == "LineTeleported {'to': 'mars'}"
    truncated = EventLog(name="Allocated", sku="LAMP", version=5, payload={"qty": 1})
    assert describe(truncated) == "Allocated {'qty': 1}"
