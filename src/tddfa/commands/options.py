"""argparse ``type=`` checks for option ranges: a bad value is a one-line usage error (exit code 2) before any
work starts, naming the option and the range."""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def count(low: int) -> Callable[[str], int]:
    """A whole number >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = f"whole number >= {low}"
    return parse


def real(low: float, strict: bool = False) -> Callable[[str], float]:
    """A finite number >= ``low`` (> ``low`` with ``strict``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low:g}, got {text}")
        return value

    parse.__name__ = f"number {'>' if strict else '>='} {low:g}"
    return parse
