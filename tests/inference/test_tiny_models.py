"""The random tiny models stay numerically tame: no prompt gives non-finite conditioning.

A fresh CLIP final layer norm (weight 1, bias 0) makes every token's hidden state average
exactly zero; A1111 weighting then rescales by 0 / ~0 and `[cat]` became inf → NaN latents.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from prompt.request import PromptPart
from tests.inference.engine_helpers import pixels, spec

# Pieces of the prompt fuzz corpus that reach the A1111 weighting (brackets, weights, BREAK).
PIECES = [
    "(", ")", "[", "]", "(word:1.3)", "[x]", "cat", "a hat", "é", "🙂", ":", "::", ":0)",
    ":-1)", ":1e3)", "1.0", "BREAK", ",", "\\(", "[cat:dog:1.0]", "\x00", "\u200b",
]  # fmt: skip


def corpus(count: int) -> list[str]:
    rng = random.Random(0)
    texts = ["[cat]", "a [cat:dog:1.0]", "[[x]]", "(cat:-1)", "(x:0)"]
    for _ in range(count):
        texts.append(" ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 10))))
    return texts


def test_no_fuzz_prompt_gives_non_finite_conditioning(engine: Any) -> None:
    from inference.worker.prompt_encoding import encode_prompt

    encoders = engine.pipelines.model("tiny").encoders()
    worst = 0.0
    for text in corpus(300):
        encoded = encode_prompt(encoders, (PromptPart(text=text),), negative=text)
        for tensor in (encoded.cond, encoded.uncond):
            assert bool(tensor.isfinite().all()), text
            worst = max(worst, float(tensor.abs().max()))
    assert worst < 50  # a layer-norm output, rescaled by at most 1 / mean(weight)


def test_bracketed_prompts_paint_finite_images(registry: Any, engine: Any) -> None:
    # Before the fix `[cat]` raised NaNOutputError ("the model produced NaN values").
    for text in ("[cat]", "a [cat:dog:1.0]"):
        out = engine.run(spec(registry, text))
        assert np.isfinite(pixels(out)).all() and pixels(out).std() > 0
