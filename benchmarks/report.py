"""The printed result: Markdown tables, so the output pastes into docs/performance.md."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

Cell = str | int | float


def fmt_ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def fmt_rate(per_second: float) -> str:
    return "n/a" if math.isnan(per_second) else f"{per_second:,.0f}"


def fmt_ratio(ratio: float) -> str:
    return "n/a" if math.isnan(ratio) else f"{ratio:.2f}"


@dataclass
class Table:
    title: str
    headings: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Cell) -> None:
        assert len(cells) == len(self.headings), (self.title, cells)
        self.rows.append([str(c) for c in cells])

    def note(self, text: str) -> None:
        self.notes.append(text)

    def render(self) -> str:
        widths = [
            max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
            for i, h in enumerate(self.headings)
        ]

        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        out = [f"### {self.title}", "", line(self.headings)]
        out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        out += [line(row) for row in self.rows]
        if self.notes:
            out.append("")
            out += [f"- {n}" for n in self.notes]
        return "\n".join(out)


@dataclass
class Report:
    machine: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    lag_p99_ms: float = math.nan
    lag_rate: float = math.nan
    history_ratio: float = math.nan
    projection_ratio: float = math.nan
    pgbench_fraction: float = math.nan
    all_met: bool = False
    partial: bool = False
    duration: float = 0.0

    def render(self, smoke: bool = False) -> str:
        title = "## Allocation service benchmark" + (
            " (SMOKE: numbers mean nothing)" if smoke else ""
        )
        out = [title, ""]
        out += [f"- {line}" for line in self.machine]
        out.append(f"- measured in {self.duration:.0f} s (after setup)")
        for table in self.tables:
            out += ["", table.render()]
        verdict = "all targets met" if self.all_met else "some targets missed (see Targets)"
        out += ["", f"{verdict} (partial run)" if self.partial else verdict]
        return "\n".join(out)
