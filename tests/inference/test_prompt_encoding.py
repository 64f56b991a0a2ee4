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
