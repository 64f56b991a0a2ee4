"""Banned-word moderation: a guild's list, matched as whole words after folding disguises.

Both the text and the banned words go through the same `fold`:

1. NFKC (full-width and other compatibility forms), then invisible characters removed (Unicode
   format characters: zero-width space/joiner/non-joiner, soft hyphen, word joiner, BOM…);
2. accents stripped (NFKD, combining marks dropped) and case folded;
3. look-alike letters folded to the Latin letter they imitate through Unicode's confusables
   table (UTS #39, from the `confusable-homoglyphs` package: Cyrillic `о`, Greek `ο`, …);
4. common digit/symbol stand-ins folded (`0`→o, `1`→i, `3`→e, `4`→a, `5`→s, `7`→t, `@`→a,
   `$`→s).

The folded text is split into words at anything that is not a letter or digit: spaces and
`_ - .` separate words, other punctuation (`, ; : ( ) ! ?`…) also ends a phrase. A banned word
or phrase matches when its words appear as whole consecutive words of one phrase, the last one
also in a simple plural (`s`, `es`, `y`→`ies`), or inside a run of single letters (`g o r e`,
`g.o.r.e`). It never matches inside a longer word, so `cat` does not catch `category` nor
`cunt` `scunthorpe`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a"})
_LEET_SYMBOLS = str.maketrans({"$": "s"})
_WORD = re.compile(r"[^\W_]+")
# Punctuation other than the word separators `_ - .` ends a phrase: "red, dog" is two items.
_PHRASE_BREAK = re.compile(r"[^\w\s.\-]+")


@functools.cache
def _confusables() -> dict[str, str]:
    """Non-ASCII character → the ASCII letter or digit it imitates (Unicode's table)."""
    from confusable_homoglyphs import confusables

    table: dict[str, str] = {}
    for char, glyphs in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        for glyph in glyphs:
            target = glyph.get("c", "")
            if len(target) == 1 and target.isascii() and target.isalnum():
                table[char] = target.casefold()
                break
    return table


def fold(text: str) -> str:
    """The text as moderation compares it (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    table = _confusables()
    text = "".join(table.get(c, c) if not c.isascii() else c for c in text)
    return text.translate(_LEET_SYMBOLS).translate(_LEET)


def words_of(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def _phrases(text: str) -> list[list[str]]:
    return [_WORD.findall(part) for part in _PHRASE_BREAK.split(fold(text))]


def _plurals(word: str) -> tuple[str, ...]:
    forms = [word, word + "s", word + "es"]
    if word.endswith("y") and len(word) > 2:
        forms.append(word[:-1] + "ies")
    return tuple(forms)


def _matches_words(words: Sequence[str], banned: Sequence[str]) -> bool:
    last = _plurals(banned[-1])
    n = len(banned)
    for i in range(len(words) - n + 1):
        if list(words[i : i + n - 1]) == list(banned[:-1]) and words[i + n - 1] in last:
            return True
    return False


def _letter_runs(words: Sequence[str]) -> list[str]:
    """Runs of two or more one-character words, joined: `g o r e` → "gore"."""
    runs, current = [], []
    for word in [*words, ""]:
        if len(word) == 1:
            current.append(word)
            continue
        if len(current) >= 2:
            runs.append("".join(current))
        current = []
    return runs


def find_banned_word(text: str, banned: Iterable[str]) -> str | None:
    """The first banned word or phrase that `text` contains (see the module docstring)."""
    banned = list(banned)
    if not banned:
        return None
    phrases = _phrases(text)
    runs = [run for words in phrases for run in _letter_runs(words)]
    for entry in banned:
        parts = words_of(entry)
        if not parts:
            continue
        if any(_matches_words(words, parts) for words in phrases):
            return entry
        joined = "".join(parts)
        if len(joined) > 1 and any(form in run for run in runs for form in _plurals(joined)):
            return entry
    return None


def find_in_texts(texts: Iterable[str | None], banned: Iterable[str]) -> str | None:
    """`find_banned_word` over several texts (each expanded prompt, its negative prompt…)."""
    banned = list(banned)
    for text in texts:
        if text and (word := find_banned_word(text, banned)):
            return word
    return None


def normalize_word_list(words: Iterable[str]) -> list[str]:
    """Deduplicated, trimmed, lower-cased words in first-seen order (what admins edit)."""
    seen: dict[str, None] = {}
    for word in words:
        cleaned = " ".join(unicodedata.normalize("NFKC", word).casefold().split())
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)
