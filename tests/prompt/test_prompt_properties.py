"""Properties: arbitrary text never breaks the parser, and requests print back canonically.

The three fuzz strategies feed 10,000 strings in all: any unicode (control characters
included), an alphabet of the language's own punctuation, and a soup of its tokens.
"""

from __future__ import annotations

from typing import TypeVar

from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st

from prompt import SAMPLERS, PromptError, format_prompt, parse_prompt
from prompt.attention import check_attention
from prompt.flags import FLAG_START
from prompt.multiprompt import split_parts
from prompt.parser import collapse
from prompt.request import LORA_NAME_RE, MAX_SEED, DynThres, ImagineParams, LoraRef

T = TypeVar("T")


def examples(count: int) -> settings:
    # Generate only: replaying the example database and the explain phase cost a third of the
    # run; a failure is still shrunk (Phase.shrink) to a small example.
    return settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow],
    )


def maybe(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


PUNCTUATION = list("-—–−:{},\\<>()[]|.0123456789 \t\n\r\x00\x1b\u2028\u00a0aArRzé🙂")
TOKENS = [
    "--ar", "—ar", "–AR", "--aspect", "--seed", "--lora", "--no", "--tile", "--repeat",
    "--sampler", "--q", "--cfg", "--steps", "--model", "--chaos", "--clip-skip", "--x", "--",
    "-", "—", "<lora:", "<lora:ink:0.5>", "<lora:../x:1>", ">", "::", "::2", "::-1", ":", "{",
    "}", ",", "\\{", "\\,", "\\", "16:9", "1:5", "0:0", "3", "-1", ".5", "1e400", "nan",
    "99999999999999999999", "Euler a", "DPM++ 2M Karras", "k_dpmpp_2m", "(word:1.3)",
    "[x]", "cat", "a hat", "é", "🙂", "\x00", "\n", "\u200b",
]  # fmt: skip


def assert_parser_contract(text: str) -> None:
    """Only PromptError may escape; a success makes 1…10 requests that round-trip."""
    try:
        requests = parse_prompt(text)
    except PromptError as error:
        assert error.message.strip()
        assert len(error.message) < 600  # fits a Discord reply
        assert error.flag is None or (error.flag.startswith("--") and len(error.flag) <= 32)
        return
    assert 1 <= len(requests) <= 10
    for params in requests:
        assert parse_prompt(format_prompt(params)) == [params]


# Each example feeds a batch of BATCH strings: Hypothesis's cost is per example, not per
# string, so batches feed 10,000 strings in a fraction of the time 10,000 examples take.
BATCH = 5


def batches(strings: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(strings, min_size=BATCH, max_size=BATCH)


@examples(4_000 // BATCH)
@given(batches(st.text(max_size=80)))
def test_any_unicode_text(texts: list[str]) -> None:
    for text in texts:
        assert_parser_contract(text)


@examples(3_000 // BATCH)
@given(batches(st.text(alphabet=st.sampled_from(PUNCTUATION), max_size=80)))
def test_the_languages_punctuation(texts: list[str]) -> None:
    for text in texts:
        assert_parser_contract(text)


SOUP = st.builds(
    str.join, st.sampled_from([" ", "", "  "]), st.lists(st.sampled_from(TOKENS), max_size=12)
)


@examples(3_000 // BATCH)
@given(batches(SOUP))
# A flag glued to the flag before it ('--no—ar': a dash typed for `--`) was once the first word
# of --no's value, which the canonical form then read as a flag of its own.
@example(["--\x00--no—ar--ar", "a --no—ar 2:1", "a --tile--ar 2:1", "a --no–x", "a --no—"])
def test_a_soup_of_tokens(texts: list[str]) -> None:
    for text in texts:
        assert_parser_contract(text)


def test_long_prompts_at_the_limit() -> None:
    assert_parser_contract("a " * 3000)
    assert_parser_contract("{" * 6000)
    assert_parser_contract("--ar " * 1200)
    assert_parser_contract("::" * 3000)


# --- canonical round trip from requests built field by field --------------------------------

NAMES = st.text(alphabet="aZ09_.-", min_size=1, max_size=12).filter(
    lambda name: bool(LORA_NAME_RE.fullmatch(name)) and ".." not in name
)
LORA_NAMES = st.text(alphabet="aZ09_.- ", min_size=1, max_size=12).filter(
    lambda name: bool(LORA_NAME_RE.fullmatch(name)) and ".." not in name and "  " not in name
)
TEXT_ALPHABET = st.sampled_from(list("abcxyz ÉéЖ中🙂,.:;!?'\"()[]{}\\<>-—_/|0123456789\t"))


@st.composite
def free_text(draw: st.DrawFn) -> str:
    """Text that can stand as a prompt or a negative prompt: no flags, no inline LoRA tags."""
    text = collapse(draw(st.text(alphabet=TEXT_ALPHABET, min_size=1, max_size=60)))
    assume(text and not FLAG_START.search(text))
    return text


@st.composite
def requests(draw: st.DrawFn) -> ImagineParams:
    prompt = draw(free_text())
    try:
        parts = split_parts(prompt)
    except PromptError:
        assume(False)
        raise
    names = draw(st.lists(LORA_NAMES, unique=True, max_size=4))
    weights = st.floats(-2, 2, allow_nan=False)
    negative = draw(maybe(free_text()))
    try:  # extreme attention is refused by design (issue 21 item 13)
        check_attention(prompt)
        check_attention(negative or "")
    except PromptError:
        assume(False)
        raise
    steps = draw(maybe(st.integers(1, 150)))
    return ImagineParams(
        prompt=prompt,
        parts=parts,
        negative_prompt=negative,
        aspect_ratio=draw(maybe(st.sampled_from(["1:1", "16:9", "2:3", "4:1", "1:4", "7:5"]))),
        cfg=draw(maybe(st.floats(1, 30))),
        sampler=draw(maybe(st.sampled_from(SAMPLERS))),
        loras=tuple(
            LoraRef(name=name, weight=draw(weights), unet_weight=draw(maybe(weights)))
            for name in names
        ),
        seed=draw(maybe(st.integers(0, MAX_SEED))),
        steps=steps,
        # --q and --steps together are refused (issue 21 item 18): one or the other.
        quality=None if steps is not None else draw(maybe(st.sampled_from([0.25, 0.5, 1.0, 2.0]))),
        model=draw(maybe(NAMES)),
        chaos=draw(maybe(st.integers(0, 100))),
        tile=draw(st.booleans()),
        fast=draw(st.booleans()),
        clip_skip=draw(maybe(st.integers(1, 12))),
        dynthres=draw(
            maybe(st.builds(DynThres, percentile=st.floats(50, 100), mimic=st.floats(1, 30)))
        ),
    )


@examples(200)
@given(requests())
def test_canonical_prompt_parses_back_to_the_same_request(params: ImagineParams) -> None:
    assert parse_prompt(format_prompt(params)) == [params]
