"""/edit on the engine: models.toml's `edit` model, the job's checks before any charge, and
the real diffusers edit pipelines on tiny models (FluxKontextPipeline on the tiny FLUX.1,
Flux2KleinPipeline with reference images): four images of the job's size, the same per seed,
PNG parameters that say what ran."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inference.errors import BadRequestError, RegistryError
from inference.infotext import parse_infotext
from inference.instruct import edit_again, edit_from_job, edit_spec
from inference.registry import ModelEntry, Registry, parse_registry
from inference.resolve import imagine_spec, upscale_spec
from pipeline.contracts import JobKind, UpscaleMode
from prompt.parser import parse_prompt
from prompt.request import ImageRef

SHA = ImageRef(sha256="a" * 64)


def _params(text: str) -> Any:
    (params,) = parse_prompt(text)
    return params


def _registry(edit: str | None) -> Registry:
    models = {
        "sd": ModelEntry("sd", "/nowhere", "dir", "sd15", 20, 64),
        "kontext": ModelEntry("kontext", "/nowhere", "dir", "flux", 4, 64),
        "klein": ModelEntry("klein", "/nowhere", "dir", "flux2", 4, 64),
    }
    return Registry(models, "sd", edit=edit)


def test_models_toml_names_the_edit_model_and_refuses_one_that_cannot_edit() -> None:
    tables = [
        {"name": "sd", "source": "a/sd", "family": "sd15"},
        {"name": "kontext", "source": "a/kontext", "family": "flux"},
    ]
    assert parse_registry({"models": tables, "edit": "kontext"}, Path("/")).edit == "kontext"
    assert parse_registry({"models": tables}, Path("/")).edit is None
    with pytest.raises(RegistryError, match=r"`edit` must name a \[\[models\]\] entry"):
        parse_registry({"models": tables, "edit": "nope"}, Path("/"))
    with pytest.raises(RegistryError, match=r"sd15 model, which does not edit.*flux or flux2"):
        parse_registry({"models": tables, "edit": "sd"}, Path("/"))


def test_without_an_edit_model_an_edit_is_refused_before_any_charge() -> None:
    with pytest.raises(BadRequestError, match="not set up on this server"):
        edit_spec(_params("make it night"), _registry(None), (64, 64), images=(SHA,))


def test_an_edit_keeps_the_image_shape_at_the_models_area_and_new_seeds() -> None:
    job = edit_spec(
        _params("make it night --seed 7"), _registry("kontext"), (300, 150), images=(SHA,)
    )
    gen = job.generation
    assert job.kind is JobKind.EDIT and gen.model == "kontext" and gen.prompt == "make it night"
    assert (gen.width, gen.height, gen.seed, gen.batch) == (96, 64, 7, 4)
    assert gen.sampler == "euler" and job.edit is not None and job.edit.images == (SHA,)
    again = edit_again(job, _registry("kontext"))
    assert again.kind is JobKind.EDIT and again.edit == job.edit and again.job_id != job.job_id
    remixed = edit_again(job, _registry("kontext"), _params("make it dawn"))
    assert remixed.generation.prompt == "make it dawn" and remixed.edit == job.edit


@pytest.mark.parametrize(
    ("model", "count", "refused"),
    [("kontext", 2, "edits one image at a time, not 2"), ("klein", 3, None),
     ("klein", 4, "edits 1 to 3 images at a time, not 4")],
)  # fmt: skip
def test_how_many_images_an_edit_takes_depends_on_the_model(
    model: str, count: int, refused: str | None
) -> None:
    images = (SHA,) * count
    if refused is None:
        assert (
            len(edit_spec(_params("a"), _registry(model), (64, 64), images=images).edit.images) == 3
        )  # type: ignore[union-attr]
        return
    with pytest.raises(BadRequestError, match=refused):
        edit_spec(_params("a"), _registry(model), (64, 64), images=images)


@pytest.mark.parametrize(
    ("text", "named"),
    [("night --ar 16:9", "--ar"), ("night --model sd", "--model"), ("", "say what to change"),
     ("night --clip-skip 2", "--clip-skip")],
)  # fmt: skip
def test_what_an_instruction_cannot_carry_is_refused_by_name(text: str, named: str) -> None:
    with pytest.raises(BadRequestError, match=named):
        params = _params(text) if text else _params("x").model_copy(update={"prompt": " "})
        edit_spec(params, _registry("kontext"), (64, 64), images=(SHA,))


# --- the engine, on the tiny models -------------------------------------------------------


@pytest.fixture(scope="module")
def edit_engine(family_build: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    from inference.registry import load_registry
    from inference.worker.engine import Engine
    from pipeline.image_intake import load_reference
    from pipeline.storage import LocalStorage

    storage = LocalStorage(tmp_path_factory.mktemp("edit-storage"))
    engine = Engine(
        load_registry(family_build[0]),
        device="cpu",
        max_models=3,
        load_reference=lambda sha: load_reference(storage, sha),
    )
    engine.test_storage = storage  # type: ignore[attr-defined]
    return engine


def _source(seed: int, size: tuple[int, int] = (64, 64)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def _parent(engine: Any) -> Any:
    params = _params("a red fox --model tiny-flux --seed 3")
    return imagine_spec(params, engine.registry)


def test_the_tiny_models_edit_with_kontext_on_the_tiny_flux(edit_engine: Any) -> None:
    from inference.worker.families.edit import pixel_hash

    assert edit_engine.registry.edit == "tiny-flux"
    parent = _parent(edit_engine)
    source = _source(1)
    job = edit_from_job(parent, 2, "k", _params("make it night --seed 40"), edit_engine.registry)
    out = edit_engine.run(job, source)
    assert len(out.images) == 4 and {i.size for i in out.images} == {(64, 64)}
    assert out.seeds == [40, 41, 42, 43] and len({i.tobytes() for i in out.images}) == 4
    text = parse_infotext(out.infotexts[1])
    assert text.prompt == "make it night" and text.params["Seed"] == "41"
    assert text.params["Edit model"] == "tiny-flux (FluxKontextPipeline)"
    assert (
        text.params["Edit source"] == pixel_hash(source) and "Reference images" not in text.params
    )
    again = edit_engine.run(job, source)  # the same seed: the same images
    assert all(
        np.array_equal(_pixels(a), _pixels(b))
        for a, b in zip(out.images, again.images, strict=True)
    )
    other = edit_engine.run(job, _source(2))  # another image: another edit
    assert not np.array_equal(_pixels(out.images[0]), _pixels(other.images[0]))
    # U on the edit's grid: the tile at 2x on FLUX.1's img2img, the instruction as its prompt.
    up = edit_engine.run(upscale_spec(job, 2, UpscaleMode.SUBTLE, "k"), out.images[1])
    assert up.images[0].size == (128, 128)
    assert parse_infotext(up.infotexts[0]).params["Denoising strength"] == "0.3"


def test_flux2_klein_edits_attached_images_with_references(edit_engine: Any) -> None:
    from pipeline.image_intake import store_bytes

    registry = dataclasses.replace(edit_engine.registry, edit="tiny-flux2")
    storage = edit_engine.test_storage
    refs = []
    for seed, size in ((5, (128, 64)), (6, (64, 64))):
        import io

        buffer = io.BytesIO()
        _source(seed, size).save(buffer, "PNG")
        refs.append(ImageRef(sha256=store_bytes(storage, buffer.getvalue()).sha256))
    one = edit_spec(_params("add a red hat --seed 9"), registry, (128, 64), images=(refs[0],))
    two = edit_spec(_params("add a red hat --seed 9"), registry, (128, 64), images=tuple(refs))
    first, both = edit_engine.run(one), edit_engine.run(two)
    assert {i.size for i in both.images} == {(96, 64)} and len(both.images) == 4
    params = parse_infotext(both.infotexts[0]).params
    assert params["Edit model"] == "tiny-flux2 (Flux2KleinPipeline)" and "Edit references" in params
    assert "Edit references" not in parse_infotext(first.infotexts[0]).params
    assert not np.array_equal(_pixels(first.images[0]), _pixels(both.images[0]))


def test_a_flagged_input_image_stops_the_edit_before_it_paints(edit_engine: Any) -> None:
    from tests.inference.test_safety import verdict

    job = edit_from_job(
        _parent(edit_engine), 1, "k", _params("make it night"), edit_engine.registry
    )
    with (
        verdict(edit_engine, flag_everything=True),
        pytest.raises(BadRequestError, match="flagged"),
    ):
        edit_engine.run(job, _source(3))


def test_an_edit_job_needs_its_image(edit_engine: Any) -> None:
    job = edit_spec(_params("a"), edit_engine.registry, (64, 64), images=(SHA,))
    job = job.model_copy(update={"edit": None, "source": None})
    with pytest.raises(BadRequestError, match="needs the image"):
        edit_engine.run(job)
