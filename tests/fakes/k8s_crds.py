"""A CRD's table, as the apiextensions table convertor builds it from the CRD's
additionalPrinterColumns (their JSONPath evaluated, dates as human durations)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from tests.fakes.k8s_time import since

Obj = dict[str, Any]
Column = tuple[str, str, int]


FILTER = re.compile(r'\[\?\(@\.(\w+)==["\']([^"\']*)["\']\)\]')


def jsonpath_value(obj: Obj, path: str) -> Any:
    """The paths CRDs use for printer columns: `.a.b`, `.a[0].b`, `.a[?(@.k=="v")].b`."""
    value: Any = obj
    for token in re.findall(r'\.\w[\w-]*|\[\d+\]|\[\?\(@\.\w+==["\'][^"\']*["\']\)\]', path):
        if token.startswith("."):
            value = value.get(token[1:]) if isinstance(value, dict) else None
        elif token.startswith("[?"):
            key, wanted = FILTER.match(token).groups()  # type: ignore[union-attr]
            value = next((item for item in value or [] if isinstance(item, dict)
                          and str(item.get(key)) == wanted), None)
        else:
            index = int(token[1:-1])
            value = value[index] if isinstance(value, list) and index < len(value) else None
        if value is None:
            return None
    return value


def crd_printer(columns: Sequence[Obj]) -> tuple[list[Column], Callable[[Obj], list[Any]]]:
    """The columns a CRD declares (Age added when it declares none), as the
    apiextensions table convertor builds them: dates become human durations."""
    declared = list(columns) or [{"name": "Age", "type": "date",
                                  "jsonPath": ".metadata.creationTimestamp"}]
    definitions = [("Name", "string", 0)] + [
        (c["name"], c.get("type", "string"), c.get("priority", 0)) for c in declared]

    def row(o: Obj) -> list[Any]:
        cells: list[Any] = [str(o["metadata"]["name"])]
        for column in declared:
            value = jsonpath_value(o, column["jsonPath"])
            if column.get("type") == "date" and isinstance(value, str):
                value = since(value)
            cells.append(value)
        return cells
    return definitions, row
