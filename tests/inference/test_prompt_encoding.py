"""Our A1111-style encoder against diffusers' own encoder where they must agree."""

from __future__ import annotations

from typing import Any

import torch

from inference.worker.prompt_encoding import encode_prompt
from prompt.request import PromptPart


def _ours(engine: Any, text: str, negative: str = "", clip_skip: int | None = None) -> Any:
    model = engine.pipelines.model("tiny")
    return encode_prompt(model.encoders(), (PromptPart(text=text),), negative, clip_skip)


def test_plain_prompt_matches_diffusers_encoding(engine: Any) -> None:
    pipe = engine.pipelines.model("tiny").base
    ours = _ours(engine, "a red fox in the snow", negative="blurry")
    with torch.inference_mode():
        cond, uncond = pipe.encode_prompt(
            "a red fox in the snow", "cpu", 1, True, negative_prompt="blurry"
        )
    assert ours.chunks == 1 and ours.cond.shape == (1, 77, 32)
    assert torch.allclose(ours.cond, cond, atol=1e-5)
    assert torch.allclose(ours.uncond, uncond, atol=1e-5)


def test_clip_skip_2_matches_diffusers_penultimate_layer(engine: Any) -> None:
    pipe = engine.pipelines.model("tiny").base
    ours = _ours(engine, "a red fox", clip_skip=2)
    with torch.inference_mode():
        # diffusers counts skipped layers from 0 (clip_skip=1 → penultimate); A1111 from 1.
        cond, _ = pipe.encode_prompt("a red fox", "cpu", 1, False, clip_skip=1)
    assert torch.allclose(ours.cond, cond, atol=1e-5)
    assert not torch.allclose(ours.cond, _ours(engine, "a red fox").cond, atol=1e-3)


def test_weights_scale_only_their_tokens_and_keep_the_mean(engine: Any) -> None:
    plain = _ours(engine, "a red fox").cond
    same = _ours(engine, "a red (fox:1.0)").cond
    heavy = _ours(engine, "a red (fox:1.5)").cond
    assert torch.allclose(plain, same, atol=1e-6)
    assert torch.allclose(plain.mean(), heavy.mean(), atol=1e-5)
    # One common factor f (the mean rescale) on every token; "fox" (token 3) also × 1.5.
    f = (heavy[0, 1] / plain[0, 1]).mean()
    others = [i for i in range(77) if i != 3]
    assert torch.allclose(heavy[0, others], plain[0, others] * f, atol=1e-4)
    assert torch.allclose(heavy[0, 3], plain[0, 3] * 1.5 * f, atol=1e-4)


def test_long_prompt_has_two_chunks_and_negative_is_padded(engine: Any) -> None:
    long_text = " ".join(["a quiet harbor town at dawn with boats and gulls"] * 10)
    encoded = _ours(engine, long_text, negative="blurry")
    assert encoded.chunks == 2 and encoded.tokens == 100
    assert encoded.cond.shape == encoded.uncond.shape == (1, 154, 32)


def test_parts_are_averaged_by_weight(engine: Any) -> None:
    model = engine.pipelines.model("tiny")
    fox, castle = _ours(engine, "a red fox").cond, _ours(engine, "a castle").cond
    parts = (PromptPart(text="a red fox", weight=3.0), PromptPart(text="a castle", weight=1.0))
    mixed = encode_prompt(model.encoders(), parts, "").cond
    assert torch.allclose(mixed, 0.75 * fox + 0.25 * castle, atol=1e-5)


def _a1111_chunk_lengths(ids: list[int], comma: int, backtrack: int = 20) -> list[int]:
    """A1111's sd_hijack_clip chunking rules, restated: the lengths of the chunks."""
    chunks: list[list[int]] = [[]]
    last_comma = -1
    for token in ids:
        chunk = chunks[-1]
        if token == comma:
            last_comma = len(chunk)
        elif len(chunk) == 75 and last_comma != -1 and len(chunk) - last_comma <= backtrack:
            moved = chunk[last_comma + 1 :]
            del chunk[last_comma + 1 :]
            chunks.append(moved)
            last_comma = -1
        if len(chunks[-1]) == 75:
            chunks.append([])
            last_comma = -1
        chunks[-1].append(token)
    return [len(c) for c in chunks if c] or [0]


def test_chunks_follow_a1111_when_the_overflowing_token_is_a_comma(engine: Any) -> None:
    import random

    from inference.worker.prompt_encoding import chunk_tokens

    tokenizer = engine.pipelines.model("tiny").base.tokenizer
    comma = tokenizer.convert_tokens_to_ids(",</w>")
    # 75 tokens, then a comma: the full chunk is kept (the old rule cut it at token 72).
    text = "fox, " * 37 + "hat, owl"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids[75] == comma
    assert [len(c) for c in chunk_tokens(tokenizer, text)] == _a1111_chunk_lengths(ids, comma)
    rng = random.Random(7)
    words = ["red", "fox", "snow", "watercolor", "masterpiece", "1girl", "best quality"]
    for _ in range(40):
        tags = ", ".join(rng.choice(words) for _ in range(rng.randint(20, 90)))
        ids = tokenizer(tags, add_special_tokens=False)["input_ids"]
        got = [len(c) for c in chunk_tokens(tokenizer, tags)]
        assert got == _a1111_chunk_lengths(ids, comma), tags
