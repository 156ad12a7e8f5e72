"""Argument validation of a tool with 10 patterns (issue: secure by default).

Uploaded tools' `pattern`s run on RE2 (bot/plugin_host/contract/schemas.py) so that no argument can
make the check backtrack. This measures what that costs in the regime users are in (short,
valid arguments, as a model sends them), side by side with jsonschema's own validator on
Python's `re`, 3 repeats; and, for scale, one hostile argument on each.

Run: python bench/bench_validation.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jsonschema import Draft202012Validator

from bench.common import machine, markdown_table, percentile
from bot.plugin_host.contract.schemas import compile_validator

CALLS = 20_000
REPEATS = 3
PATTERNS = [r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", r"^\d{1,5}$", r"^(prod|staging|dev)$",
            r"^[A-Za-z0-9._-]{1,253}$", r"^v?\d+\.\d+\.\d+$", r"^[0-9a-f]{7,40}$",
            r"^https?://[^\s]+$", r"^\d+(ms|s|m|h)$", r"^[A-Z][A-Za-z]+$",
            r"^[a-z]+(,[a-z]+)*$"]
VALUES = ["checkout-api", "8080", "prod", "api.example.com", "v1.2.3", "3f7a1c9",
          "https://grafana.example.com/d/x", "30s", "Deployment", "pods,services"]
SCHEMA = {"type": "object", "additionalProperties": False,
          "properties": {f"p{i}": {"type": "string", "pattern": p}
                         for i, p in enumerate(PATTERNS)}}
ARGS = {f"p{i}": v for i, v in enumerate(VALUES)}


def timed(validator: object, args: dict[str, str], calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        errors = list(validator.iter_errors(args))  # type: ignore[attr-defined]
        samples.append(time.perf_counter() - started)
        assert not errors, errors
    return samples


def hostile(validator: object, length: int) -> float:
    schema_args = {"p0": "a" * length + "!"}
    started = time.perf_counter()
    list(validator.iter_errors(schema_args))  # type: ignore[attr-defined]
    return time.perf_counter() - started


def main() -> None:
    ours = compile_validator(SCHEMA)
    python_re = Draft202012Validator(SCHEMA)
    rows = []
    for repeat in range(REPEATS):
        for name, validator in (("RE2 (the bot)", ours), ("Python re (jsonschema)", python_re)):
            samples = timed(validator, ARGS, CALLS)
            rows.append([str(repeat + 1), name, f"{percentile(samples, 50) * 1e6:.1f}",
                         f"{percentile(samples, 99) * 1e6:.1f}"])
    print(f"Machine: {machine()}\n")
    print(f"10 string properties, each with a pattern; valid arguments; {CALLS:,} checks "
          "per row (µs):\n")
    print(markdown_table(["run", "engine", "p50", "p99"], rows))
    evil = {"type": "object", "properties": {"p0": {"type": "string", "pattern": "^(a+)+$"}}}
    print("\nOne hostile argument against `^(a+)+$` (seconds):\n")
    cases = []
    for length in (20, 22, 24):
        cases.append([str(length + 1), f"{hostile(compile_validator(evil), length):.6f}",
                      f"{hostile(Draft202012Validator(evil), length):.3f}"])
    print(markdown_table(["argument length", "RE2 (the bot)", "Python re (jsonschema)"],
                         cases))


if __name__ == "__main__":
    main()
