"""How many 75-token chunks the text encoder will run for a prompt, estimated without the
tokenizer (pure, torch-free): the price of a job follows its work (db/cost.py).

CLIP's tokenizer makes at least one token per word, one per digit and one per other symbol; a
long word takes several. The estimate counts the same way (a word of up to 12 letters is one
token, each further 12 letters one more), so it tracks the worker's chunking closely on real
prompts and errs low: a member is not charged for chunks the worker will not run."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from prompt.schedules import split_and

CHUNK_TOKENS = 75
_PIECE = re.compile(r"[^\W\d_]+|\d|[^\w\s]|_")
# Attention syntax is weighing, not text: the worker encodes what is inside the brackets.
_WEIGHT = re.compile(r":\s*[+-]?[.\d]+\s*(?=\))")
_BRACKETS = re.compile(r"[()\[\]\\]|\bBREAK\b")


def estimated_tokens(text: str) -> int:
    text = _BRACKETS.sub(" ", _WEIGHT.sub(" ", text))
    return sum(1 + (len(p) - 1) // 12 if p[0].isalpha() else 1 for p in _PIECE.findall(text))


def _chunks(text: str) -> int:
    # Each A1111 AND subprompt runs through the UNet beside the others: its chunks add up.
    return sum(
        max(1, math.ceil(estimated_tokens(sub) / CHUNK_TOKENS)) for sub, _ in split_and(text)
    )


def prompt_chunks(texts: Iterable[str | None]) -> int:
    """Chunks of the longest text (each part of a multi-prompt and the negative prompt are
    encoded at the same length, that of the longest; AND subprompts count together)."""
    return max((_chunks(t) for t in texts if t), default=1)
