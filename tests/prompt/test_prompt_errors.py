"""Every rejection the issue names: a message a member can act on, and the flag it concerns."""

from __future__ import annotations

import pytest

from prompt import PromptError, parse_prompt


@pytest.mark.parametrize(
    ("text", "flag", "says"),
    [
        # empty prompt, too long
        ("", None, "the prompt is empty"),
        ("   \n\t ", None, "the prompt is empty"),
        ("\x00\x01", None, "the prompt is empty"),
        ("--ar 16:9", None, "no text before its flags"),
        ("<lora:ink:1> --tile", None, "no text before its flags"),
        ("x" * 6001, None, "6,001 characters long; the limit is 6,000"),
        # stray text after a value
        ("a --ar 16:9 in a hat", "--ar", "move 'in a hat' before --ar"),
        ("a --seed 5 and more", "--seed", "move 'and more' before --seed"),
        ("a --tile please", "--tile", "move 'please' before --tile"),
        ("a --sampler Euler a in a hat", "--sampler", "move 'in a hat' before --sampler"),
        ("a --lora x:1 y:1", "--lora", "move 'y:1' before --lora"),
        # missing values
        ("a --ar", "--ar", "--ar needs a value, e.g. --ar 16:9"),
        ("a --cfg --seed 1", "--cfg", "--cfg needs a value"),
        ("a --sampler", "--sampler", "--sampler needs a value"),
        ("a --lora", "--lora", "--lora needs a value"),
        ("a --seed", "--seed", "--seed needs a value"),
        ("a --no --tile", "--no", "--no needs a value"),
        ("a --steps", "--steps", "--steps needs a value"),
        ("a --q", "--q", "--q needs a value"),
        ("a --model", "--model", "--model needs a value"),
        ("a --chaos", "--chaos", "--chaos needs a value"),
        ("a --clip-skip", "--clip-skip", "--clip-skip needs a value"),
        ("a --repeat", "--repeat", "--repeat needs a value"),
        # out of range / malformed values
        ("a --ar 16", "--ar", "ratio W:H"),
        ("a --ar 16 9", "--ar", "ratio W:H"),
        ("a --ar 16x9", "--ar", "ratio W:H"),
        ("a --ar 0:1", "--ar", "must be positive"),
        ("a --ar -1:1", "--ar", "ratio W:H"),
        ("a --ar 5:1", "--ar", "from 1:4 to 4:1"),
        ("a --ar 1:5", "--ar", "from 1:4 to 4:1"),
        ("a --ar 1.5:1", "--ar", "ratio W:H"),
        ("a --cfg 0.5", "--cfg", "out of range: use 1 to 30"),
        ("a --cfg 31", "--cfg", "out of range: use 1 to 30"),
        ("a --cfg nan", "--cfg", "needs a number"),
        ("a --cfg inf", "--cfg", "needs a number"),
        ("a --cfg 1_0", "--cfg", "needs a number"),
        ("a --lora x:2.5", "--lora", "out of range: use -2 to 2"),
        ("a --lora x:-3", "--lora", "out of range: use -2 to 2"),
        ("a --lora x:", "--lora", "needs a number"),
        ("a --lora x:heavy", "--lora", "needs a number"),
        ("a <lora:ink:9> b", "--lora", "out of range: use -2 to 2"),
        ("a --dynthres 20", "--dynthres", "percentile '20' is out of range: use 50 to 100"),
        ("a --dynthres 99:40", "--dynthres", "mimic scale '40' is out of range: use 1 to 30"),
        ("a --dynthres 99:", "--dynthres", "mimic scale needs a number"),
        ("a <lora:ink:1:3> b", "--lora", "LoRA ink UNet weight '3' is out of range"),
        ("a <lora:ink:1:1:1> b", "--lora", "LoRA ink: too many weights"),
        ("a <lora:ink:dyn=4> b", "--lora", "LoRA ink: 'dyn=4' is not supported"),
        ("a <lora:my  style:1> b", "--lora", "is not a LoRA name"),
        ("a --seed -1", "--seed", "out of range: use 0 to 4294967295"),
        ("a --seed 4294967296", "--seed", "out of range"),
        ("a --seed 1.5", "--seed", "whole number"),
        ("a --seed " + "9" * 5000, "--seed", "whole number"),
        ("a --steps 0", "--steps", "use 1 to 150"),
        ("a --steps 151", "--steps", "use 1 to 150"),
        ("a --q 3", "--q", "use 0.25, 0.5, 1 or 2"),
        ("a --q 0.75", "--q", "use 0.25, 0.5, 1 or 2"),
        ("a --q high", "--q", "use 0.25, 0.5, 1 or 2"),
        ("a --chaos 101", "--chaos", "use 0 to 100"),
        ("a --chaos -1", "--chaos", "use 0 to 100"),
        ("a --clip-skip 0", "--clip-skip", "use 1 to 12"),
        ("a --clip-skip 13", "--clip-skip", "use 1 to 12"),
        ("a --repeat 0", "--repeat", "use 1 to 10"),
        ("a --repeat 11", "--repeat", "use 1 to 10"),
        ("a --model ../../etc", "--model", "is not a model name"),
        ("a --model two words", "--model", "move 'words' before --model"),
        # unknown flag: the closest known one
        ("a --sed 3", "--sed", "unknown flag --sed: did you mean --seed?"),
        ("a --aspectratio 3:2", "--aspectratio", "did you mean --ar"),
        ("a --negative x", "--negative", "unknown flag --negative"),
        ("a —stpes 20", "--stpes", "did you mean --steps?"),
        ("a --clipskp 2", "--clipskp", "did you mean --clip-skip?"),
        ("a --" + "x" * 5000, "--" + "x" * 29 + "…", "unknown flag --xxxxx"),
        # repeated single-valued flag
        ("a --ar 1:1 --ar 2:3", "--ar", "--ar is given twice"),
        ("a --seed 1 --SEED 2", "--seed", "--seed is given twice"),
        ("a --q 1 --quality 2", "--q", "--q is given twice"),
        ("a --tile --tile", "--tile", "--tile is given twice"),
        ("a --no x --no y", "--no", "--no is given twice"),
        ("a --repeat 2 --repeat 2", "--repeat", "--repeat is given twice"),
        ("a --lora x --lora x:0.5", "--lora", "LoRA x is given twice"),
        ("a <lora:x:1> --lora x", "--lora", "LoRA x is given twice"),
        ("a <lora:x:1> <lora:x:0.5>", "--lora", "LoRA x is given twice"),
        # unknown sampler: closest names
        ("a --sampler eulr", "--sampler", "unknown sampler 'eulr'; closest: euler"),
        ("a --sampler dpm++ 3m karras", "--sampler", "closest: dpm++_2m_karras"),
        ("a --sampler DPM adaptive", "--sampler", "unknown sampler 'DPM adaptive'"),
        ("a --sampler zzzz", "--sampler", "known samplers: euler, euler_a"),
        # bad LoRA names: a name, never a path
        ("a --lora ../secrets", "--lora", "'../secrets' is not a LoRA name"),
        ("a --lora /etc/passwd:1", "--lora", "is not a LoRA name"),
        ("a --lora dir\\x", "--lora", "is not a LoRA name"),
        ("a --lora a..b", "--lora", "is not a LoRA name"),
        ("a --lora _x", "--lora", "is not a LoRA name"),
        ("a --lora " + "n" * 65, "--lora", "is not a LoRA name"),
        ("a <lora:sub/dir:1> b", "--lora", "is not a LoRA name"),
        # multi-prompts
        ("a::-1 b", None, "weights add up to 0; they must add up to more than 0"),
        ("a::-2 b::0.5", None, "add up to -1.5"),
        ("a::500 b", None, "weight 500 is out of range"),
        (":: ::2", None, "only '::'"),
        # permutations
        ("a {b, c", None, "'{' is never closed"),
        ("a b}", None, "'}' closes no '{'"),
        ("{{{{{{{{{a}}}}}}}}}", None, "nested more than 8 deep"),
        ("{a,b} {c,d} {e,f} {g,h}", None, "would make 16 requests; the limit is 10"),
        ("{a,b,c} --repeat 4", "--repeat", "would make 12 requests"),
        ("a --repeat {5, 6}", "--repeat", "would make 11 requests"),
        ("{a,b}" * 100, None, "would make over a billion requests"),
    ],
)
def test_errors(text: str, flag: str | None, says: str) -> None:
    with pytest.raises(PromptError) as caught:
        parse_prompt(text)
    assert says in caught.value.message
    assert caught.value.flag == flag
    assert str(caught.value) == caught.value.message


# Issue 21 item 13: extreme attention is refused at parse time, ordinary A1111 use is not.
@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("(x:" + "9" * 41 + ")", "attention weight 999999999999… is out of range: use -10 to 10"),
        ("a (x:10.5) b", "attention weight 10.5 is out of range"),
        ("a (x:-11) b", "attention weight -11 is out of range"),
        ("(" * 1000 + "x", "nested more than 10 deep"),
        ("[" * 11 + "x" + "]" * 11, "nested more than 10 deep"),
        ("(((x:9)))", "multiply to 10.9"),
        ("((x:4):4)", "multiply to 16"),
        ("a --no (x:20)", "attention weight 20 is out of range"),
        ("{(x:50), y}", "attention weight 50 is out of range"),
    ],
)
def test_extreme_attention_is_refused(text: str, says: str) -> None:
    with pytest.raises(PromptError) as caught:
        parse_prompt(text)
    assert says in caught.value.message


@pytest.mark.parametrize(
    "text",
    [
        "(x:1.3) [y] ((z)) [[w]]",
        "((((((x:3))))))",
        "(x:-10) (y:10) (z:0)",
        "\\(x:50\\) is literal",
        "12:30 and x:50) unmatched",
        "(x:1.2.3)",
        "(((((((((( ten deep ))))))))))",
    ],
)
def test_ordinary_attention_passes(text: str) -> None:
    assert parse_prompt(text)


# Issue 21 item 18: small wrongs members met.
@pytest.mark.parametrize(
    ("text", "flag", "says"),
    [
        ("a --q 2 --steps 20", "--q", "--q and --steps both choose the number of steps"),
        ("a --stylize 250", "--stylize", "Midjourney flag Nanke does not have: use --cfg"),
        ("a --v 6", "--v", "pick a model with --model"),
        ("a --s 100", "--s", "it is Midjourney's --stylize"),
        ("a --zzzzzz 1", "--zzzzzz", "unknown flag --zzzzzz: (flags:"),  # no far-fetched guess
    ],
)
def test_small_wrongs_get_the_right_message(text: str, flag: str, says: str) -> None:
    with pytest.raises(PromptError) as caught:
        parse_prompt(text)
    assert says in caught.value.message and caught.value.flag == flag
    assert "did you mean --tile" not in caught.value.message


@pytest.mark.parametrize(
    "text",
    [
        'a --sampler "DPM++ 2M Karras"',
        "a --sampler 'DPM++ 2M Karras'",
        "a --sampler “DPM++ 2M Karras”",
    ],
)
def test_a_quoted_sampler_name_is_accepted(text: str) -> None:
    assert parse_prompt(text)[0].sampler == "dpm++_2m_karras"
