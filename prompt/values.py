"""Number parsing and formatting shared by the flags (strict: no '1_000', 'nan' or 'inf')."""

from __future__ import annotations

import re

from prompt.errors import PromptError

# Bounded digit counts keep int() away from Python's 4300-digit limit and keep floats finite.
_INT = re.compile(r"[+-]?[0-9]{1,30}")
_FLOAT = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,3})?")


def quote(text: str, limit: int = 40) -> str:
    """`text` in single quotes for an error message, shortened when long."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"


def fmt_number(value: float) -> str:
    """Shortest text that parses back to `value`: 7.0 → '7', 0.25 → '0.25'."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def parse_int(text: str, what: str, low: int, high: int, flag: str | None) -> int:
    if not _INT.fullmatch(text):
        raise PromptError(
            f"{what} needs a whole number from {low} to {high}, not {quote(text)}", flag
        )
    number = int(text)
    if not low <= number <= high:
        raise PromptError(f"{what} {number} is out of range: use {low} to {high}", flag)
    return number


def parse_float(text: str, what: str, low: float, high: float, flag: str | None) -> float:
    span = f"{fmt_number(low)} to {fmt_number(high)}"
    if not _FLOAT.fullmatch(text):
        raise PromptError(f"{what} needs a number from {span}, not {quote(text)}", flag)
    number = float(text)
    if not low <= number <= high:
        raise PromptError(f"{what} {quote(text)} is out of range: use {span}", flag)
    return number
