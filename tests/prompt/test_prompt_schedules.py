"""Prompt editing and alternation against A1111's prompt_parser doctests (≥ 1.6 numbering)."""

from __future__ import annotations

import pytest

from prompt.schedules import is_scheduled, prompt_schedule, split_and

# (prompt, schedule over 10 steps), as A1111's get_learned_conditioning_prompt_schedules gives.
A1111_DOCTESTS = [
    ("test", [(10, "test")]),
    ("a [b:3]", [(3, "a "), (10, "a b")]),
    ("a [b: 3]", [(3, "a "), (10, "a b")]),
    ("a [[[b]]:2]", [(2, "a "), (10, "a [[b]]")]),
    ("[(a:2):3]", [(3, ""), (10, "(a:2)")]),
    ("a [b : c : 1] d", [(1, "a b  d"), (10, "a  c  d")]),
    ("a[b:[c:d:2]:1]e", [(1, "abe"), (2, "ace"), (10, "ade")]),
    ("a [unbalanced", [(10, "a [unbalanced")]),
    ("a [b:.5] c", [(5, "a  c"), (10, "a b c")]),
    ("a [{b|d{:.5] c", [(5, "a  c"), (10, "a {b|d{ c")]),
    ("((a][:b:c [d:3]", [(3, "((a][:b:c "), (10, "((a][:b:c d")]),
    ("[a|(b:1.1)]", [(i, "a" if i % 2 else "(b:1.1)") for i in range(1, 11)]),
    ("[fe|]male", [(i, "female" if i % 2 else "male") for i in range(1, 11)]),
    ("[fe|||]male", [(i, "female" if i % 4 == 1 else "male") for i in range(1, 11)]),
]


@pytest.mark.parametrize(("text", "expected"), A1111_DOCTESTS)
def test_schedules_match_a1111_doctests(text: str, expected: list[tuple[int, str]]) -> None:
    assert prompt_schedule(text, 10) == expected


def test_fractions_whole_numbers_and_the_ends() -> None:
    assert prompt_schedule("[cat:dog:1.0]", 20) == [(20, "cat")]
    assert prompt_schedule("[cat:dog:0]", 20) == [(20, "dog")]
    assert prompt_schedule("[cat:dog:0.5]", 20) == [(10, "cat"), (20, "dog")]
    assert prompt_schedule("[cat:dog:5]", 20) == [(5, "cat"), (20, "dog")]
    assert prompt_schedule("[cat:dog:50]", 20) == [(20, "cat")]  # beyond the end: never
    assert prompt_schedule("[cat::0.25]", 8) == [(2, "cat"), (8, "")]
    assert prompt_schedule("[cat|dog]", 1) == [(1, "cat")]
    assert prompt_schedule("\\[cat:dog:3\\]", 10) == [(10, "\\[cat:dog:3\\]")]
    # A '|' outside any [...] is text A1111's grammar cannot read: painted as written.
    assert prompt_schedule("a | b [c:3]", 10) == [(10, "a | b [c:3]")]
    assert prompt_schedule("[cat:dog:1e400]", 4) == [(4, "cat")]
    assert not is_scheduled("a (red:1.2) [fox] 12:30")
    assert is_scheduled("a [red:blue:0.5] fox") and is_scheduled("[a|b]")


def test_and_splits_subprompts_with_their_weights() -> None:
    assert split_and("a cat :1.2 AND a dog :0.8") == [("a cat", 1.2), (" a dog", 0.8)]
    assert split_and("(a cat:1.2) AND a dog") == [("(a cat:1.2)", 1.0), (" a dog", 1.0)]
    assert split_and("sand ANDROID") == [("sand ANDROID", 1.0)]  # a whole word only
    assert split_and("a AND b: -.5") == [("a", 1.0), (" b", -0.5)]


def test_the_parser_keeps_the_syntax_and_refuses_what_cannot_run() -> None:
    from prompt import PromptError, parse_prompt
    from prompt.chunks import prompt_chunks

    (params,) = parse_prompt("a [cat:dog:0.5] :1.5 AND [red|blue] ball --steps 20")
    assert params.prompt == "a [cat:dog:0.5] :1.5 AND [red|blue] ball"
    assert len(params.parts) == 1
    with pytest.raises(PromptError, match="mixes Midjourney's '::' parts with A1111's AND"):
        parse_prompt("a cat::2 AND a dog")
    with pytest.raises(PromptError, match="9 AND subprompts; the limit is 8"):
        parse_prompt(" AND ".join(["x"] * 9))
    with pytest.raises(PromptError, match=r"the AND weight 1e\+06 .* is out of range"):
        parse_prompt("a cat :1000000 AND a dog")
    # Each AND subprompt is one more UNet batch: priced like a chunk.
    assert prompt_chunks(["a AND b AND c AND d"]) == 4
    assert prompt_chunks(["a cat", "word " * 76]) == 2


def test_other_extra_network_tags_are_removed_with_a_note() -> None:
    from prompt import parse_prompt
    from prompt.extra_networks import extra_network_note

    text = "a cat <hypernet:anime:0.5>, <lora:ink:0.5> fur <emb:fluffy:1> --no <hypernet:x:1> blur"
    (params,) = parse_prompt(text)
    assert params.prompt == "a cat , fur" and params.negative_prompt == "blur"
    assert [lora.name for lora in params.loras] == ["ink"]
    note = extra_network_note(text)
    assert note is not None and "`<hypernet:anime:0.5>`" in note and "emb, hypernet" in note
    # `<lyco:…>` is A1111's LyCORIS tag: a LoRA (LoHa and LoKr files load as LoRAs).
    (params,) = parse_prompt("a cat <lyco:fluffy:0.6> <LyCo:soft:1:0.5>")
    assert [(x.name, x.weight, x.unet_weight) for x in params.loras] == [
        ("fluffy", 0.6, None),
        ("soft", 1.0, 0.5),
    ]
    assert extra_network_note("a cat <lyco:fluffy:0.6>") is None
    assert extra_network_note("a cat <lora:ink:0.5>") is None
    assert extra_network_note("a <lora:../x:1> cat") is None  # the parser's error, not a note
