"""Helpers shared by the benchmarks: percentiles, tables, machine description."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(samples: Sequence[float]) -> dict[str, str]:
    """p50/p95/p99/mean of samples given in seconds, formatted in milliseconds."""
    return {"p50": f"{percentile(samples, 50) * 1000:.3f}",
            "p95": f"{percentile(samples, 95) * 1000:.3f}",
            "p99": f"{percentile(samples, 99) * 1000:.3f}",
            "mean": f"{statistics.fmean(samples) * 1000:.3f}"}


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    return (f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")
