"""`{a, b}` permutations: one prompt → several, expanded before any flag is read.

Groups nest; `\\{`, `\\}` and `\\,` are literal characters (every other backslash is kept, so
A1111's `\\(` still reaches the attention parser). Options are trimmed, and the leftmost group
varies slowest, as in Midjourney.
"""

from __future__ import annotations

import itertools
import math

from prompt.errors import PromptError

MAX_DEPTH = 8
_ESCAPABLE = "{},"

# A chain is text and groups in order; a group is its options, each a chain.
Chain = list["str | Group"]
Group = list[Chain]


def _tree(text: str) -> Chain:
    root: Chain = []
    current = root
    stack: list[tuple[Group, Chain]] = []  # (open group, the sequence holding it)
    buf: list[str] = []

    def flush() -> None:
        if buf:
            current.append("".join(buf))
            buf.clear()

    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and text[i + 1 : i + 2] in tuple(_ESCAPABLE):
            buf.append(text[i + 1])
            i += 2
            continue
        if char == "{":
            if len(stack) >= MAX_DEPTH:
                raise PromptError(
                    f"permutations are nested more than {MAX_DEPTH} deep: flatten the {{…}} groups"
                )
            flush()
            group: Group = [[]]
            current.append(group)
            stack.append((group, current))
            current = group[0]
        elif char == "}":
            if not stack:
                raise PromptError("'}' closes no '{': remove it or write \\} for a literal brace")
            flush()
            current = stack.pop()[1]
        elif char == "," and stack:
            flush()
            open_group = stack[-1][0]
            open_group.append([])
            current = open_group[-1]
        else:
            buf.append(char)
        i += 1
    if stack:
        raise PromptError("'{' is never closed: add the '}' or write \\{ for a literal brace")
    flush()
    return root


def _count(seq: Chain) -> int:
    return math.prod(1 if isinstance(item, str) else sum(map(_count, item)) for item in seq)


def _expand(seq: Chain) -> list[str]:
    choices = [
        [item] if isinstance(item, str) else [s.strip() for opt in item for s in _expand(opt)]
        for item in seq
    ]
    return ["".join(combo) for combo in itertools.product(*choices)]


def expand_permutations(text: str, limit: int) -> list[str]:
    """All prompts `text` stands for; PromptError if more than `limit`."""
    tree = _tree(text)
    total = _count(tree)
    if total > limit:
        shown = f"{total:,}" if total < 10**9 else "over a billion"
        raise PromptError(
            f"this prompt would make {shown} requests; the limit is {limit}: "
            "use fewer {…} options"
        )
    return _expand(tree)
