"""A1111 attention syntax → weighted text fragments (pure, torch-free).

Semantics follow AUTOMATIC1111's documented behaviour:
- `(text)` multiplies attention by 1.1 per level, `[text]` divides by 1.1 per level;
- `(text:1.3)` sets an explicit factor for the innermost open round bracket;
- `\\(`, `\\)`, `\\[`, `\\]`, `\\\\` are literal characters;
- unbalanced brackets are lenient: an unmatched closer is literal text, an unclosed opener
  still applies its factor to everything after it;
- `BREAK` (upper case, a whole word) forces a new 75-token chunk; it is returned as the
  fragment `("BREAK", -1.0)`;
- neighbouring fragments of equal weight are merged.
"""

from __future__ import annotations

import re

ROUND_FACTOR = 1.1
SQUARE_FACTOR = 1 / 1.1
BREAK = "BREAK"

_TOKEN = re.compile(
    r"""
      \\[()\[\]\\]              # escaped bracket or backslash
    | \\                        # a lone backslash
    | [(\[]                     # openers
    | :\s*([+-]?[.\d]+)\s*\)    # explicit weight closing a round bracket
    | [)\]]                     # closers
    | [^\\()\[\]:]+             # plain text
    | :                         # a colon that is not a weight
    """,
    re.VERBOSE,
)
_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)


def parse_attention(text: str) -> list[tuple[str, float]]:
    """Split `text` into (fragment, weight) pairs; never raises."""
    frags: list[list[str | float]] = []
    opens: dict[str, list[int]] = {"(": [], "[": []}

    def scale(start: int, factor: float) -> None:
        for frag in frags[start:]:
            frag[1] = float(frag[1]) * factor

    def add_text(chunk: str) -> None:
        for i, piece in enumerate(_BREAK.split(chunk)):
            if i:
                frags.append([BREAK, -1.0])
            frags.append([piece, 1.0])

    for match in _TOKEN.finditer(text):
        tok, explicit = match.group(0), match.group(1)
        if tok.startswith("\\") and len(tok) == 2:
            frags.append([tok[1], 1.0])
        elif tok in opens:
            opens[tok].append(len(frags))
        elif explicit is not None and opens["("]:
            try:
                factor = float(explicit)
            except ValueError:  # "(x:1.2.3)": A1111 would crash; we treat it as 1.1
                factor = ROUND_FACTOR
            scale(opens["("].pop(), factor)
        elif tok == ")" and opens["("]:
            scale(opens["("].pop(), ROUND_FACTOR)
        elif tok == "]" and opens["["]:
            scale(opens["["].pop(), SQUARE_FACTOR)
        else:
            add_text(tok)

    for start in opens["("]:
        scale(start, ROUND_FACTOR)
    for start in opens["["]:
        scale(start, SQUARE_FACTOR)

    merged: list[tuple[str, float]] = []
    for frag_text, weight in ((str(f[0]), float(f[1])) for f in frags):
        if merged and merged[-1][1] == weight and weight != -1.0:
            merged[-1] = (merged[-1][0] + frag_text, weight)
        else:
            merged.append((frag_text, weight))
    return merged or [("", 1.0)]
