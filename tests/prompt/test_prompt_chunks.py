"""The torch-free estimate of 75-token chunks that prices a job (issue 21 item 13)."""

from __future__ import annotations

import pytest

from prompt.chunks import estimated_tokens, prompt_chunks


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("a red fox", 3),
        ("a red fox, watercolor", 5),  # the comma is a token
        ("(stormy sky:1.2) [calm]", 3),  # weighing syntax is not text
        ("1920", 4),  # CLIP splits digits
        ("supercalifragilisticexpialidocious", 3),  # a long word takes several tokens
    ],
)
def test_token_estimate(text: str, tokens: int) -> None:
    assert estimated_tokens(text) == tokens


def test_chunks_follow_the_longest_text() -> None:
    assert prompt_chunks(["a cat"]) == 1
    assert prompt_chunks([]) == 1
    assert prompt_chunks(["a cat", "word " * 76]) == 2
    assert prompt_chunks(["a cat, " * 857]) == 35  # the 6,000-character prompt of the issue
