"""`get` as kubectl prints it: the API server's Table (its printers, a CRD's printer
columns), laid out the way kubectl's table printer lays it out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.kube import Resource

from . import output

Obj = dict[str, Any]


def cell_text(value: Any) -> str:
    """A cell as kubectl prints it."""
    if type(value) is str:  # most cells: 10,000 of them in a 2,000-pod table
        return value
    if value is None:
        return "<none>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        import json
        return json.dumps(value, separators=(",", ":"))
    return str(value)


DEFAULT_COLUMNS = [{"name": "Name", "type": "string", "format": "name", "priority": 0},
                   {"name": "Age", "type": "string", "format": "", "priority": 0}]


def as_table(answer: Obj) -> Obj:
    """The answer as a Table. A server that does not make Tables (an aggregated API, some
    proxies) answers a plain List or object: kubectl then prints its own default, NAME and
    AGE, with each item as the row's object (so labels, sorting and namespaces work)."""
    if answer.get("kind") == "Table":
        return answer
    items = answer.get("items") if "items" in answer else [answer]
    rows = [{"cells": [(item.get("metadata") or {}).get("name", ""),
                       output.age((item.get("metadata") or {}).get("creationTimestamp"))],
             "object": item} for item in items or []]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": answer.get("metadata") or {}, "columnDefinitions": DEFAULT_COLUMNS,
            "rows": rows}


def render(table: Obj, res: Resource, *, wide: bool, with_namespace: bool,
           name_prefix: bool, show_labels: bool = False,
           label_columns: Sequence[str] = (), no_headers: bool = False) -> str:
    columns = [(i, c) for i, c in enumerate(table.get("columnDefinitions") or [])
               if wide or not c.get("priority")]
    headers = [c["name"].upper() for _, c in columns]
    rows = []
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        metadata = (row.get("object") or {}).get("metadata") or {}
        texts = [cell_text(cells[i]) if i < len(cells) else "" for i, _ in columns]
        if name_prefix and columns and columns[0][1].get("format") == "name":
            texts[0] = f"{res.name_prefix}/{texts[0]}"
        if with_namespace:
            texts.insert(0, metadata.get("namespace", ""))
        labels = metadata.get("labels") or {}
        texts += [labels.get(key, "") for key in label_columns]
        if show_labels:
            texts.append(",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>")
        rows.append(texts)
    headers = (["NAMESPACE"] if with_namespace else []) + headers + [
        key.rsplit("/", 1)[-1].upper() for key in label_columns] + (
        ["LABELS"] if show_labels else [])
    return output.table(headers, rows, show_headers=not no_headers)
