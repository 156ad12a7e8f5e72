"""Kubernetes quantities: parsed by the official client (`kubernetes.utils.parse_quantity`),
printed in the canonical form Go's resource.Quantity.String() gives ("1000m" is "1",
"1536Mi" is "1536Mi", "0.5" is "500m"), and summed keeping the first term's format."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

DECIMAL = ((-9, "n"), (-6, "u"), (-3, "m"), (0, ""), (3, "k"), (6, "M"), (9, "G"),
           (12, "T"), (15, "P"), (18, "E"))
BINARY = ((60, "Ei"), (50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki"))


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    binary: bool = False

    @classmethod
    def parse(cls, text: object) -> Quantity:
        from kubernetes.utils import parse_quantity  # not at load: the client is ~0.4 s

        text = str(text).strip()
        return cls(parse_quantity(text), binary=text.endswith("i"))

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, self.binary)

    def milli(self) -> int:
        """MilliValue: rounded up, as Go rounds."""
        return math.ceil(self.value * 1000)

    def whole(self) -> int:
        return math.ceil(self.value)

    def __str__(self) -> str:
        if self.value == 0:
            return "0"
        if self.binary and abs(self.value) >= 1024 and self.value == self.value.to_integral():
            number = int(self.value)
            for power, suffix in BINARY:
                if number % (1 << power) == 0:
                    return f"{number >> power}{suffix}"
            return str(number)
        return _decimal(self.value)


def _decimal(value: Decimal) -> str:
    """The largest SI suffix that leaves an integer mantissa; below nano, rounded up."""
    for exponent, suffix in reversed(DECIMAL):
        mantissa = value.scaleb(-exponent)
        if mantissa == mantissa.to_integral():
            return f"{int(mantissa)}{suffix}"
    return f"{math.ceil(value.scaleb(9))}n"


ZERO = Quantity(Decimal(0))


def total(values: list[object]) -> Quantity:
    """The sum of quantities, in the first one's format (as Go's Add keeps it)."""
    if not values:
        return ZERO
    first, *rest = (Quantity.parse(v) for v in values)
    for value in rest:
        first = first + value
    return first
