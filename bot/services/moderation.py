"""Banned-word moderation: a guild's list, matched as whole words, case-insensitively."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable


def _fold(text: str) -> str:
    # NFKC folds full-width and other look-alike forms; casefold handles ß and friends.
    return unicodedata.normalize("NFKC", text).casefold()


def find_banned_word(text: str, banned: Iterable[str]) -> str | None:
    """The first banned word or phrase that appears in `text` as whole word(s), else None.

    `cat` matches "a Cat," but not "category"; phrases match across any run of whitespace."""
    folded = _fold(text)
    for word in banned:
        parts = _fold(word).split()
        if not parts:
            continue
        pattern = r"(?<!\w)" + r"\s+".join(re.escape(p) for p in parts) + r"(?!\w)"
        if re.search(pattern, folded):
            return word
    return None


def normalize_word_list(words: Iterable[str]) -> list[str]:
    """Deduplicated, trimmed, lower-cased words in first-seen order (what admins edit)."""
    seen: dict[str, None] = {}
    for word in words:
        cleaned = " ".join(_fold(word).split())
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)
