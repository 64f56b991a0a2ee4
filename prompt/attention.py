"""Bounds on A1111 attention syntax, checked at parse time (pure).

`(word:1.3)`, `((word))` and `[word]` are weighed by the worker (`inference/prompt_weights.py`:
×1.1 per `()` level, ÷1.1 per `[]` level, `(x:w)` sets the factor, and nested groups multiply).
A weight like `(x:99999999999999999999)` or a thousand nested brackets would make the text
encoder's output overflow and the whole job run for nothing, so the parser refuses:

- an explicit weight outside −10…10 (A1111 prompts rarely go beyond about ±3);
- brackets nested deeper than `MAX_DEPTH`;
- nested groups whose weights multiply beyond ±10.

The scan mirrors the worker's tokenizer: `\\(` `\\)` `\\[` `\\]` are literal, an unmatched closer
is text, an unclosed opener still counts.
"""

from __future__ import annotations

import math
import re

from prompt.errors import PromptError

MAX_WEIGHT = 10.0
MAX_DEPTH = 10
_ROUND, _SQUARE = 1.1, 1 / 1.1
_TOKEN = re.compile(
    r"""
      \\[()\[\]\\]              # escaped bracket or backslash
    | [(\[]                     # openers
    | :\s*([+-]?[.\d]+)\s*\)    # explicit weight closing a round bracket
    | [)\]]                     # closers
    | [^\\()\[\]:]+ | \\ | :    # text
    """,
    re.VERBOSE,
)


def check_attention(text: str) -> None:
    """PromptError when the attention weights of `text` are out of bounds (see above)."""
    # Each group: (parent group index or -1, factor); `open_` holds indexes of open groups.
    groups: list[list[float]] = []
    parents: list[int] = []
    open_: list[tuple[str, int]] = []
    for match in _TOKEN.finditer(text):
        tok, explicit = match.group(0), match.group(1)
        if tok in ("(", "["):
            parents.append(open_[-1][1] if open_ else -1)
            groups.append([_ROUND if tok == "(" else _SQUARE])
            open_.append((tok, len(groups) - 1))
            if len(open_) > MAX_DEPTH:
                raise PromptError(
                    f"brackets are nested more than {MAX_DEPTH} deep: use (word:1.5) for a "
                    "stronger weight instead of many brackets"
                )
        elif explicit is not None and _innermost(open_, "(") is not None:
            index = _close(open_, "(")
            groups[index][0] = _weight(explicit)
        elif tok == ")" and _innermost(open_, "(") is not None:
            _close(open_, "(")
        elif tok == "]" and _innermost(open_, "[") is not None:
            _close(open_, "[")
    for index in range(len(groups)):
        product, at = 1.0, index
        while at != -1:
            product *= groups[at][0]
            at = parents[at]
        if abs(product) > MAX_WEIGHT:
            raise PromptError(
                f"nested attention weights multiply to {product:.3g}; keep the combined weight "
                f"of any word between -{MAX_WEIGHT:g} and {MAX_WEIGHT:g}"
            )


def _innermost(open_: list[tuple[str, int]], kind: str) -> int | None:
    return next((i for k, i in reversed(open_) if k == kind), None)


def _close(open_: list[tuple[str, int]], kind: str) -> int:
    for at in range(len(open_) - 1, -1, -1):
        if open_[at][0] == kind:
            return open_.pop(at)[1]
    raise AssertionError("no open group of that kind")


def _weight(text: str) -> float:
    try:
        weight = float(text)
    except ValueError:  # "(x:1.2.3)": the worker treats it as 1.1
        return _ROUND
    if not math.isfinite(weight) or abs(weight) > MAX_WEIGHT:
        shown = text if len(text) <= 12 else text[:12] + "…"
        raise PromptError(
            f"the attention weight {shown} is out of range: use -{MAX_WEIGHT:g} to "
            f"{MAX_WEIGHT:g}, e.g. (word:1.3) (most prompts stay within about 3)"
        )
    return weight
