"""Follow-ups and LoRAs change pictures the way a person expects.

- img2img at low strength (Upscale Subtle, 0.3) keeps its input; at high strength (Vary Strong
  without unCLIP, 0.85) it follows a new prompt; Vary Subtle (0.6) stays closer to the source
  than Vary Strong;
- the `green` LoRA (trained with the model, loaded from the LoRA folder like a user's file)
  turns shapes green in proportion to its weight, and weight 0 is exactly the base model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from inference import tiny_shapes
from tests.semantic.painting import follow_up, imagine, imagine_job
from tests.semantic.scoring import as_array, colour_fraction, read

SOURCE = tiny_shapes.Picture("circle", "red", "left", "white")


def _source() -> Image.Image:
    return Image.fromarray(tiny_shapes.draw(SOURCE))


def _distance(images: list[Image.Image], source: Image.Image) -> float:
    """Mean absolute pixel difference (0-255) of each image (at 64 px) from the source."""
    ref = as_array(source)
    small = [as_array(i.resize(source.size, Image.Resampling.BILINEAR)) for i in images]
    return float(np.mean([np.abs(s - ref).mean() for s in small]))


def test_upscale_subtle_keeps_its_input(trained_engine: Any, trained_registry: Any) -> None:
    # The parent asked for something else entirely: at strength 0.3 the input still wins.
    parent = imagine_job(trained_registry, "a blue square on the right", seed=21, batch=1)
    kept = follow_up(trained_engine, parent, _source(), "upscale")
    assert kept[0].size == (128, 128)
    reading = read(kept[0].resize((64, 64), Image.Resampling.BILINEAR))
    assert (reading.colour, reading.shape, reading.position) == ("red", "circle", "left")
    assert _distance(kept, _source()) < 20, "strength 0.3 keeps the picture (0-255 scale)"


def test_vary_subtle_stays_closer_to_the_source_than_vary_strong(
    trained_engine: Any, trained_registry: Any
) -> None:
    parent = imagine_job(trained_registry, "a red circle on the left", seed=4, batch=1)
    subtle = follow_up(trained_engine, parent, _source(), "vary_subtle", seed=8, count=6)
    strong = follow_up(trained_engine, parent, _source(), "vary_strong", seed=8, count=6)
    assert sum(read(i).shows("red", "circle") for i in subtle) >= 5
    assert _distance(subtle, _source()) < _distance(strong, _source())


def test_lora_at_weight_0_is_exactly_the_base_model(
    trained_engine: Any, trained_registry: Any
) -> None:
    base = imagine(trained_engine, trained_registry, "a red circle", seed=60, count=4)
    zero = imagine(
        trained_engine, trained_registry, "a red circle <lora:green:0>", seed=60, count=4
    )
    one = imagine(trained_engine, trained_registry, "a red circle <lora:green:1>", seed=60, count=4)
    assert all(
        np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(zero, base, strict=True)
    )
    assert not all(
        np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(one, base, strict=True)
    )


def test_vary_strong_follows_a_new_prompt(trained_engine: Any, trained_registry: Any) -> None:
    parent = imagine_job(trained_registry, "a red circle on the left", seed=4, batch=1)
    remix = imagine_job(trained_registry, "a blue square", batch=1).generation
    new = {"prompt": remix.prompt, "parts": remix.parts}
    strong = follow_up(trained_engine, parent, _source(), "vary_strong", seed=30, count=8, **new)
    subtle = follow_up(trained_engine, parent, _source(), "vary_subtle", seed=30, count=8, **new)
    blue_strong = sum(read(i).colour == "blue" for i in strong)
    blue_subtle = sum(read(i).colour == "blue" for i in subtle)
    assert blue_strong >= 7, [read(i) for i in strong]
    assert blue_subtle < blue_strong


def test_the_green_lora_turns_shapes_green_in_proportion_to_its_weight(
    trained_engine: Any, trained_registry: Any
) -> None:
    def green(weight: float) -> float:
        prompt = f"a red circle <lora:green:{weight}>"
        images = imagine(trained_engine, trained_registry, prompt, seed=70, count=8)
        return sum(colour_fraction(i, "green") for i in images) / len(images)

    shares = [green(w) for w in (0.0, 0.5, 1.0)]
    assert shares[0] + 0.05 < shares[1] < shares[2], shares
