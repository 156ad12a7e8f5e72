"""A CronJob schedule checked as k8sgpt checks it (robfig/cron's ParseStandard): five
fields or a descriptor; the error is robfig's own sentence."""

from __future__ import annotations

import re

MONTHS = {name: i + 1 for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
DAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
FIELDS = ((0, 59, None), (0, 23, None), (1, 31, None), (1, 12, MONTHS), (0, 6, DAYS))
DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
               "@hourly"}
GO_DURATION = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)"
                         r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))*|0")


def schedule_error(spec: str) -> str | None:
    """None for a schedule robfig/cron accepts, else its error text."""
    if not spec:
        return "empty spec string"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        spec = spec[spec.find(" "):].strip() if " " in spec else ""
    if spec.startswith("@"):
        if spec in DESCRIPTORS:
            return None
        if spec.startswith("@every "):
            duration = spec[len("@every "):]
            return None if GO_DURATION.fullmatch(duration) else (
                f'failed to parse duration {spec}: time: invalid duration "{duration}"')
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for text, (low, high, names) in zip(fields, FIELDS, strict=True):
        for expr in filter(None, text.split(",")):
            error = _range_error(expr, low, high, names)
            if error:
                return error
    return None


def _range_error(expr: str, low: int, high: int, names: dict[str, int] | None) -> str | None:
    range_and_step = expr.split("/")
    bounds = range_and_step[0].split("-")
    try:
        if bounds[0] in ("*", "?"):
            start, end = low, high
        else:
            start = _number(bounds[0], names)
            if len(bounds) > 2:
                return f"too many hyphens: {expr}"
            end = _number(bounds[1], names) if len(bounds) == 2 else start
        step = 1
        if len(range_and_step) == 2:
            step = _number(range_and_step[1], None)
            if len(bounds) == 1 and bounds[0] not in ("*", "?"):
                end = high
        elif len(range_and_step) > 2:
            return f"too many slashes: {expr}"
    except ValueError as exc:
        return str(exc)
    if start < low:
        return f"beginning of range ({start}) below minimum ({low}): {expr}"
    if end > high:
        return f"end of range ({end}) above maximum ({high}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    if step == 0:
        return f"step of range should be a positive number: {expr}"
    return None


def _number(text: str, names: dict[str, int] | None) -> int:
    if names and text.lower() in names:
        return names[text.lower()]
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": '
                         "invalid syntax")
    number = int(text)
    if number < 0:
        raise ValueError(f"negative number ({number}) not allowed: {text}")
    return number
