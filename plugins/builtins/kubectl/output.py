"""kubectl-style output: tables with kubectl's columns and AGE, names, YAML/JSON, describe.

The objects come masked (bot.kube masks every answer as it is read)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from bot.kube import human_duration

Obj = dict[str, Any]


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """How long ago, as kubectl prints it; `<unknown>` for no time."""
    if not timestamp:
        return "<unknown>"
    then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return human_duration(((now or datetime.now(UTC)) - then).total_seconds())


def human_between(start: str, end: str) -> str:
    """How long from one timestamp to another, as kubectl prints durations."""
    first, last = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (start, end))
    return human_duration((last - first).total_seconds())


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
          show_headers: bool = True) -> str:
    """kubectl's table layout; without headers the widths come from the rows alone, as
    kubectl's tabwriter has them with --no-headers."""
    shown = [list(headers), *rows] if show_headers else [list(r) for r in rows]
    # kubectl's tabwriter: padding 3, minimum width 6 (so a cell is padded to 3 at least)
    widths = [max(3, *(len(row[i]) for row in shown)) for i in range(len(headers))] \
        if shown else []
    # Go's tabwriter pads every cell a tab ends, not the line's last: so a line whose last
    # cell is empty keeps the padding of the one before it
    return "\n".join("".join(c.ljust(w) + "   " for c, w in zip(row[:-1], widths,
                                                               strict=False)) + row[-1]
                     for row in shown if row)


def event_interval(e: Obj) -> str:
    """kubectl events' LAST SEEN: when it was first seen, or `last (xN over first)`."""
    first = e.get("eventTime") or e.get("firstTimestamp")
    series = e.get("series")
    if series:
        return f"{age(series.get('lastObservedTime'))} (x{series.get('count')} over {age(first)})"
    if (e.get("count") or 1) > 1:
        return f"{age(e.get('lastTimestamp'))} (x{e['count']} over {age(first)})"
    return age(first)


def _event_time(e: Obj) -> str:
    series = e.get("series") or {}
    return series.get("lastObservedTime") or e.get("lastTimestamp") or e.get("eventTime") or ""


def events_table(events: Sequence[Obj], *, with_namespace: bool) -> str:
    """As `kubectl events` prints them: oldest first, the object as Kind/name."""
    ordered = sorted(events, key=_event_time)
    rows = [[event_interval(e), e.get("type", ""), e.get("reason", ""),
             f"{e['involvedObject'].get('kind', '')}/{e['involvedObject'].get('name', '')}",
             (e.get("message") or "").strip()] for e in ordered]
    headers = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    if with_namespace:
        headers = ["NAMESPACE", *headers]
        rows = [[e["metadata"].get("namespace", ""), *r] for e, r in zip(ordered, rows,
                                                                          strict=True)]
    return table(headers, rows)


def _clean(obj: Obj) -> Obj:
    """Without managedFields."""
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return {**obj, "metadata": metadata}


class _GoYaml(yaml.SafeDumper):
    """sigs.k8s.io/yaml's style: a string that needs quoting gets double quotes."""

    def choose_scalar_style(self) -> Any:
        """go-yaml double-quotes a string that would read as another type ("3", "true");
        one that cannot be plain for its characters is single-quoted, as libyaml does."""
        style = super().choose_scalar_style()
        if style == "'" and self.event is not None and not self.event.implicit[0]:
            return '"'
        return style


def serialise(objects: Sequence[Obj], *, fmt: str, single: bool) -> str:
    """-o json|yaml as kubectl prints an object read as unstructured: keys sorted at every
    level (Go's maps), JSON indented by four with <, > and & escaped as Go escapes them."""
    cleaned = [_clean(o) for o in objects]
    value: Any = cleaned[0] if single and cleaned else {
        "apiVersion": "v1", "items": cleaned, "kind": "List",
        "metadata": {"resourceVersion": ""}}
    if fmt == "json":
        text = json.dumps(value, indent=4, ensure_ascii=False, sort_keys=True)
        return (text.replace("<", "\\u003c").replace(">", "\\u003e")
                .replace("&", "\\u0026").replace("\u2028", "\\u2028")
                .replace("\u2029", "\\u2029"))
    return yaml.dump(value, Dumper=_GoYaml, sort_keys=True, default_flow_style=False,
                     allow_unicode=True).rstrip()


def describe_events_lines(events: Sequence[Obj]) -> list[str]:
    """The Events section as kubectl describe writes it (tab-separated; oldest first)."""
    if not events:
        return ["Events:\t<none>"]
    lines = ["Events:", "  Type\tReason\tAge\tFrom\tMessage",
             "  ----\t------\t----\t----\t-------"]
    for e in sorted(events, key=_event_time):
        # kubectl's From (1.30 and 1.32): the component alone (never its host), else the reporting
        # controller of an events.k8s.io/v1 event
        origin = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
        lines.append("  " + "\t".join([e.get("type", ""), e.get("reason", ""),
                                        event_interval(e), origin,
                                        (e.get("message") or "").strip()]))
    return lines


def tabwrite(lines: Sequence[str]) -> str:
    """Go's tabwriter (minwidth 0, padding 2, no flags), as kubectl describe aligns: a
    column's width is set by each run of consecutive lines that have a cell there; a
    line's last cell is free."""
    rows = [line.split("\t") for line in lines]
    widths: list[list[int]] = [[0] * (len(row) - 1) for row in rows]
    _widths(rows, widths, 0, 0, len(rows))
    return "\n".join("".join(cell.ljust(width) for cell, width in zip(row, widths[i],
                                                                       strict=False))
                     + row[-1] for i, row in enumerate(rows))


def _widths(rows: list[list[str]], widths: list[list[int]], column: int, start: int,
            stop: int) -> None:
    i = start
    while i < stop:
        if len(rows[i]) - 1 <= column:
            i += 1
            continue
        end = i
        while end < stop and len(rows[end]) - 1 > column:
            end += 1
        width = max(len(rows[r][column]) for r in range(i, end)) + 2
        for r in range(i, end):
            widths[r][column] = width
        _widths(rows, widths, column + 1, i, end)
        i = end
