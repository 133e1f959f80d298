"""Load generation: closed-loop clients for throughput, a paced sender for lag.

``http.client`` rather than ``requests``: the load generator shares the machine's two
cores with the server, so the cheaper the client the less it distorts what it measures.
Every loop is bounded by a deadline (and, for the paced sender, a count).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def post_json(path: str, data: dict[str, Any]) -> Request:
        return Request("POST", path, json.dumps(data).encode(), JSON)


class HttpClient:
    """One keep-alive connection (reopened when the server closes it, as sync workers do)."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.port = port
        self.headers = headers or {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def send(self, request: Request) -> tuple[int, bytes]:
        """The status (0 for a transport error) and the body."""
        headers = {**self.headers, **request.headers}
        for attempt in range(2):
            try:
                self.conn.request(request.method, request.path, request.body, headers)
                response = self.conn.getresponse()
                body = response.read()
                if response.will_close:
                    self.conn.close()
                return response.status, body
            except (http.client.HTTPException, OSError):
                # A keep-alive connection the server dropped between requests: retry once
                # on a new one (allocating the same line twice is a no-op by contract).
                self.conn.close()
                if attempt:
                    return 0, b""
        return 0, b""

    def close(self) -> None:
        self.conn.close()


@dataclass
class Run:
    """What one load run observed: every latency (seconds) and every status."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def merge(self, other: Run) -> None:
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.elapsed += other.elapsed


MakeRequest = Callable[[int, int], Request]
"""``(client number, request number of that client) -> request``."""


def closed_loop(
    port: int,
    clients: int,
    duration: float,
    make: MakeRequest,
    headers: dict[str, str] | None = None,
) -> Run:
    """``clients`` threads, each sending its next request as soon as the last answered."""
    run = Run()
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    ends: list[float] = []

    def client(number: int) -> None:
        http_client = HttpClient(port, headers)
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        try:
            start.wait()
            deadline = time.perf_counter() + duration
            n = 0
            while (now := time.perf_counter()) < deadline:
                status, _ = http_client.send(make(number, n))
                latencies.append(time.perf_counter() - now)
                statuses[status] += 1
                n += 1
        finally:
            http_client.close()
            with lock:
                run.latencies += latencies
                run.statuses.update(statuses)
                ends.append(time.perf_counter())

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=duration + 120)
    run.elapsed = max(ends, default=began) - began
    return run


OnResult = Callable[[int, int, float, float], None]
"""``(request number, status, sent at, answered at)``, times from ``time.perf_counter``."""


def paced(
    port: int,
    rate: float,
    count: int,
    make: Callable[[int], Request],
    on_sent: Callable[[int, float], None],
    on_result: OnResult,
    senders: int = 16,
) -> Run:
    """Open loop: request ``i`` leaves at ``start + i / rate`` whatever the answers do.

    A few sender threads share the schedule, so a slow answer does not delay the next
    request (closed-loop pacing would hide lag behind back-pressure).
    """
    run = Run()
    lock = threading.Lock()
    next_index = iter(range(count))
    began = time.perf_counter() + 0.05

    def sender() -> None:
        http_client = HttpClient(port)
        try:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                due = began + i / rate
                if (wait := due - time.perf_counter()) > 0:
                    time.sleep(wait)
                sent = time.perf_counter()
                on_sent(i, sent)
                status, _ = http_client.send(make(i))
                answered = time.perf_counter()
                on_result(i, status, sent, answered)
                with lock:
                    run.latencies.append(answered - sent)
                    run.statuses[status] += 1
        finally:
            http_client.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=count / rate + 120)
    run.elapsed = time.perf_counter() - began
    return run


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: p99 is a latency that really happened)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100), at least 1
    return ordered[int(rank) - 1]


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)
