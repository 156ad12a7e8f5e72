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
