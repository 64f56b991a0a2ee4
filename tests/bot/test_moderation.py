from __future__ import annotations

import pytest

from bot.services.moderation import find_banned_word, normalize_word_list


@pytest.mark.parametrize(
    ("text", "banned", "hit"),
    [
        ("a Cat, sleeping", ["cat"], "cat"),
        ("a category of things", ["cat"], None),
        ("concatenate", ["cat"], None),
        ("a big   red dog", ["red dog"], "red dog"),
        ("a red, dog", ["red dog"], None),
        ("ＣＡＴ in full width", ["cat"], "cat"),
        ("gore --no blood", ["blood"], "blood"),  # flags are checked too
        ("nothing here", [], None),
        ("anything", ["", "  "], None),
    ],
)
def test_banned_words_match_whole_words_case_insensitively(text, banned, hit):
    assert find_banned_word(text, banned) == hit


def test_admins_word_lists_are_trimmed_folded_and_deduplicated():
    assert normalize_word_list([" Cat ", "cat", "Red  Dog", "", "dog"]) == [
        "cat",
        "red dog",
        "dog",
    ]
