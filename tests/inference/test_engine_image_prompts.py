"""Image prompts, --sref and --oref steer the tiny model through a tiny IP-Adapter (issue 15)."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inference.errors import BadRequestError
from inference.infotext import parse_infotext
from inference.png import read_parameters
from inference.resolve import imagine_spec, reroll_spec, vary_spec
from pipeline.image_intake import load_reference, store_bytes
from pipeline.storage import LocalStorage
from prompt import parse_prompt
from prompt.request import ImageRef, ImagineParams, PromptPart
from tests.inference.engine_helpers import diff, spec


def _png(colour: tuple[int, int, int], pattern: bool = False) -> bytes:
    image = Image.new("RGB", (48, 40), colour)
    if pattern:
        image.paste((255, 255, 255), (0, 0, 24, 20))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalStorage, list[ImageRef]]:
    storage = LocalStorage(tmp_path_factory.mktemp("refs"))
    images = [_png((220, 20, 20)), _png((20, 20, 220), pattern=True), _png((20, 200, 40))]
    return storage, [ImageRef(sha256=store_bytes(storage, data).sha256) for data in images]


@pytest.fixture(scope="module")
def image_engine(registry: Any, stored: tuple[LocalStorage, list[ImageRef]]) -> Any:
    from inference.worker.engine import Engine

    storage = stored[0]
    return Engine(registry, device="cpu", load_reference=lambda sha: load_reference(storage, sha))


def _job(registry: Any, text: str, refs: tuple[ImageRef, ...] = (), batch: int = 2) -> Any:
    [params] = parse_prompt(f"{text} --seed 5 --steps 3", refs)
    fields = params.model_dump(exclude={"prompt", "parts"})
    return spec(registry, params.prompt, batch=batch, **fields)


def test_an_image_prompt_changes_the_picture_and_iw_0_gives_the_text_only_one(
    registry: Any, image_engine: Any, stored: tuple[LocalStorage, list[ImageRef]]
) -> None:
    refs = stored[1]
    plain = image_engine.run(_job(registry, "a lighthouse"))
    red = image_engine.run(_job(registry, "a lighthouse", refs[:1]))
    blue = image_engine.run(_job(registry, "a lighthouse", refs[1:2]))
    assert diff(plain, red) > 1 and diff(red, blue) > 1
    zero = image_engine.run(_job(registry, "a lighthouse --iw 0", refs[:1]))
    assert np.array_equal(np.asarray(zero.images[0]), np.asarray(plain.images[0]))
    stronger = image_engine.run(_job(registry, "a lighthouse --iw 3", refs[:1]))
    assert diff(stronger, red) > 1
    # The record: each image's hash and its adapter scale (--iw 1 → 0.5).
    info = parse_infotext(read_parameters(red.pngs[0]) or "")
    assert info.params["Image prompts"] == f"{refs[0].label}:0.5"
    # A text-only job afterwards is untouched by the adapter that ran before.
    again = image_engine.run(_job(registry, "a lighthouse"))
    assert np.array_equal(np.asarray(again.images[0]), np.asarray(plain.images[0]))


def test_several_images_style_and_object_references_each_steer(
    registry: Any, image_engine: Any, stored: tuple[LocalStorage, list[ImageRef]]
) -> None:
    refs = stored[1]
    both = image_engine.run(_job(registry, "a lighthouse", refs[:2]))
    one = image_engine.run(_job(registry, "a lighthouse", refs[:1]))
    assert diff(both, one) > 0.5
    [params] = parse_prompt("a lighthouse --seed 5 --steps 3")
    plain = image_engine.run(_job(registry, "a lighthouse"))
    styled = params.model_copy(update={"style_refs": (refs[2],), "style_weight": 800})
    styled_out = image_engine.run(_with_params(registry, styled))
    assert diff(_first(plain), _first(styled_out)) > 0.5
    info = parse_infotext(read_parameters(styled_out.pngs[0]) or "")
    assert info.params["Style references"] == f"{refs[2].label}:4"
    objected = params.model_copy(update={"object_ref": refs[1]})
    object_out = image_engine.run(_with_params(registry, objected))
    assert diff(_first(plain), _first(object_out)) > 0.5


def _with_params(registry: Any, params: Any) -> Any:
    job = imagine_spec(params, registry)
    gen = job.generation.model_copy(update={"batch": 2})
    return job.model_copy(update={"generation": gen})


def _first(out: Any) -> np.ndarray:
    return np.asarray(out.images[0], dtype=np.int16)[None]


def test_reroll_and_vary_keep_the_images(
    registry: Any, image_engine: Any, stored: tuple[LocalStorage, list[ImageRef]]
) -> None:
    refs = stored[1]
    parent = _job(registry, "a lighthouse --iw 2", refs[:1])
    assert reroll_spec(parent).generation.references == parent.generation.references
    varied = vary_spec(parent, 1, strong=False, source_key="x")
    assert varied.generation.references == parent.generation.references
    out = image_engine.run(varied, source=Image.new("RGB", (64, 64), "grey"))
    info = parse_infotext(read_parameters(out.pngs[0]) or "")
    assert info.params["Image prompts"] == f"{refs[0].label}:1"


def test_a_family_without_an_adapter_refuses_images_before_running(
    registry: Any, stored: tuple[LocalStorage, list[ImageRef]]
) -> None:
    bare = dataclasses.replace(registry, ip_adapters={})
    [params] = parse_prompt("a lighthouse", stored[1][:1])
    with pytest.raises(BadRequestError, match="cannot take image prompts"):
        imagine_spec(params, bare)


def _blend(registry: Any, refs: list[ImageRef], aspect: str = "1:1") -> Any:
    params = ImagineParams(
        prompt="",
        parts=(PromptPart(text=""),),
        images=tuple(refs),
        image_weight=2.0,
        aspect_ratio=aspect,
        blend=True,
        seed=9,
        steps=3,
    )
    return _with_params(registry, params)


def test_blend_fuses_clip_image_embeddings_on_unclip(
    registry: Any, image_engine: Any, stored: tuple[LocalStorage, list[ImageRef]]
) -> None:
    refs = stored[1]
    red_blue = image_engine.run(_blend(registry, refs[:2]))
    again = image_engine.run(_blend(registry, refs[:2]))
    red_green = image_engine.run(_blend(registry, [refs[0], refs[2]]))
    assert np.array_equal(_first(red_blue), _first(again))
    assert diff(_first(red_blue), _first(red_green)) > 0.5
    info = parse_infotext(read_parameters(red_blue.pngs[0]) or "")
    assert info.params["Image prompts"] == f"{refs[0].label}:1 {refs[1].label}:1"
    assert info.prompt == ""


def test_blend_without_unclip_goes_through_the_adapter(
    registry: Any, stored: tuple[LocalStorage, list[ImageRef]]
) -> None:
    from inference.worker.engine import Engine

    storage, refs = stored
    bare = dataclasses.replace(registry, unclip=None)
    engine = Engine(bare, device="cpu", load_reference=lambda sha: load_reference(storage, sha))
    first = engine.run(_blend(bare, refs[:2], "3:2"))
    other = engine.run(_blend(bare, [refs[0], refs[2]], "3:2"))
    assert diff(_first(first), _first(other)) > 0.5
    no_adapter = dataclasses.replace(bare, ip_adapters={})
    with pytest.raises(BadRequestError, match="cannot take image prompts"):
        _blend(no_adapter, refs[:2])


def test_the_safety_checker_refuses_a_flagged_input_image(
    registry: Any, image_engine: Any, stored: tuple[LocalStorage, list[ImageRef]]
) -> None:
    from tests.inference.test_safety import verdict

    refs = stored[1]
    with verdict(image_engine, flag_everything=True), pytest.raises(BadRequestError) as caught:
        image_engine.run(_job(registry, "a lighthouse", refs[:1]))
    assert "flagged by this server's safety checker" in caught.value.message
    text_only = image_engine.run(_job(registry, "a lighthouse"))  # outputs are only flagged
    assert len(text_only.images) == 2
