"""A1111 prompt editing, alternation and AND on the tiny sd15 model: equalities that hold on
any model (prompt/schedules.py reads the syntax, inference/worker/conditioning.py runs it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.inference.engine_helpers import diff, pixels, spec


def _run(engine: Any, registry: Any, text: str, **kw: Any) -> np.ndarray:
    kw.setdefault("steps", 3)
    kw.setdefault("chaos", 30)  # chaos perturbs every scheduled conditioning the same way
    return pixels(engine.run(spec(registry, text, batch=2, **kw)))


@pytest.fixture(scope="module")
def red_blue(engine: Any, registry: Any) -> tuple[np.ndarray, np.ndarray]:
    return _run(engine, registry, "a red fox"), _run(engine, registry, "a blue fox")


def test_prompt_editing_paints_exactly_the_scheduled_prompt(
    engine: Any, registry: Any, red_blue: tuple[np.ndarray, np.ndarray]
) -> None:
    red, blue = red_blue
    assert not np.array_equal(red, blue)
    # A fraction (a decimal point) of the steps: 1.0 → all steps "red"; 0 → all "blue".
    assert np.array_equal(_run(engine, registry, "a [red:blue:1.0] fox"), red)
    assert np.array_equal(_run(engine, registry, "a [red:blue:0] fox"), blue)
    # A whole number is a step; A1111 counts model calls from 0 and switches after step
    # `when`, so with 3 steps [red:blue:2] never reaches "blue" …
    assert np.array_equal(_run(engine, registry, "a [red:blue:2] fox"), red)
    # … and [red:blue:1] paints two steps "red", then "blue": neither picture.
    mixed = _run(engine, registry, "a [red:blue:1] fox")
    assert not np.array_equal(mixed, red) and not np.array_equal(mixed, blue)
    # [x:when] adds, [x::when] removes.
    assert np.array_equal(_run(engine, registry, "a [red fox:0]"), red)
    assert np.array_equal(_run(engine, registry, "a [red fox::0]"), _run(engine, registry, "a"))


def test_alternation_starts_with_the_first_option(
    engine: Any, registry: Any, red_blue: tuple[np.ndarray, np.ndarray]
) -> None:
    red, blue = red_blue
    one_step = _run(engine, registry, "a [red|blue] fox", steps=1)
    assert np.array_equal(one_step, _run(engine, registry, "a red fox", steps=1))
    alternating = _run(engine, registry, "a [red|blue] fox")
    assert not np.array_equal(alternating, red) and not np.array_equal(alternating, blue)


def test_and_adds_guided_predictions_with_their_weights(
    engine: Any, registry: Any, red_blue: tuple[np.ndarray, np.ndarray]
) -> None:
    red, blue = red_blue
    # ε_u + ½(ε_r − ε_u) + ½(ε_r − ε_u) = ε_r: the same picture up to float rounding.
    halves = _run(engine, registry, "a red fox :0.5 AND a red fox :0.5")
    assert diff(halves, red) < 0.5
    zero = _run(engine, registry, "a red fox :0 AND a blue fox")
    assert diff(zero, blue) < 0.5
    both = _run(engine, registry, "a red fox AND a blue fox")
    assert diff(both, red) > 1 and diff(both, blue) > 1
    # At CFG 1 there is no unconditional batch in the pipeline; AND still guides.
    halves_cfg1 = _run(engine, registry, "a red fox :0.5 AND a red fox :0.5", cfg=1.0)
    assert diff(halves_cfg1, _run(engine, registry, "a red fox", cfg=1.0)) < 0.5


def test_and_with_prompt_editing_and_a_scheduled_negative(
    engine: Any, registry: Any, red_blue: tuple[np.ndarray, np.ndarray]
) -> None:
    red, _ = red_blue
    combined = "a [red:blue:1.0] fox :0.5 AND a (red:1.0) fox BREAK :0.5"
    assert diff(_run(engine, registry, combined), red) < 0.5
    negative = _run(engine, registry, "a red fox", negative_prompt="[blurry:sharp:0]")
    assert np.array_equal(negative, _run(engine, registry, "a red fox", negative_prompt="sharp"))


def test_a_short_negative_is_not_padded_to_a_long_prompt(engine: Any, registry: Any) -> None:
    unet = engine.pipelines.model("tiny").base.unet
    cross = next(m for name, m in unet.named_modules() if name.endswith("attn2"))
    lengths: list[int] = []
    hook = cross.register_forward_pre_hook(
        lambda _m, _a, kw: lengths.append(kw["encoder_hidden_states"].shape[1]),
        with_kwargs=True,
    )
    long_prompt = ", ".join(["a quiet harbor town at dawn with boats"] * 12)
    try:
        engine.run(spec(registry, long_prompt, negative_prompt="blurry", steps=1))
    finally:
        hook.remove()
    # A1111's default: the negative (1 chunk) runs apart from the prompt (2 chunks).
    assert sorted(lengths) == [77, 154]
