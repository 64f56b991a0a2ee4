"""The DiT families end to end on tiny random models built by `nanke make-tiny-models
--families`: /imagine → a 2x2 grid, U, V and 🔄 through the real diffusers pipelines
(FLUX.1, Z-Image, SD 3.5, FLUX.2 [klein]), PNG parameters that say what ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inference.errors import BadRequestError
from inference.infotext import parse_infotext
from inference.resolve import imagine_spec, reroll_spec, upscale_spec, vary_spec
from pipeline.contracts import JobKind, UpscaleMode
from prompt.parser import parse_prompt

MODELS = ["tiny-flux", "tiny-zimage", "tiny-sd3", "tiny-flux2"]


@pytest.fixture(scope="module")
def family_engine(family_build: tuple[Path, str]) -> Any:
    from inference.registry import load_registry
    from inference.worker.engine import Engine

    return Engine(load_registry(family_build[0]), device="cpu", max_models=4)


def _imagine(engine: Any, text: str) -> tuple[Any, Any]:
    (params,) = parse_prompt(text)
    spec = imagine_spec(params, engine.registry)
    return spec, engine.run(spec)


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("model", MODELS)
def test_imagine_u_v_and_reroll_run_on_each_family(family_engine: Any, model: str) -> None:
    family = family_engine.registry.model(model).family
    spec, out = _imagine(family_engine, f"a red fox in the snow --model {model} --seed 5")
    assert len(out.images) == 4 and out.grid.size == (128, 128)
    assert out.seeds == [5, 6, 7, 8] and out.steps_run == 2
    text = parse_infotext(out.infotexts[1])
    assert text.prompt == "a red fox in the snow"
    assert text.params["Model"] == model and text.params["Model family"] == family
    assert text.params["Sampler"] == "FlowMatch Euler" and text.params["Seed"] == "6"
    assert len({_pixels(i).tobytes() for i in out.images}) == 4  # four seeds, four images

    source = out.images[1]
    up_spec = upscale_spec(spec, 2, UpscaleMode.SUBTLE, "k")
    up = family_engine.run(up_spec, source)
    assert len(up.images) == 1 and up.images[0].size == (128, 128)
    up_text = parse_infotext(up.infotexts[0]).params
    assert up_text["Seed"] == "6"
    if family == "flux2":  # no img2img: the tile is FLUX.2's reference image
        assert up_text["Reference images"] == "1" and "Denoising strength" not in up_text
    else:
        assert up_text["Denoising strength"] == "0.3"

    vary = family_engine.run(vary_spec(spec, 2, False, "k", seed=100), source)
    assert len(vary.images) == 4 and vary.seeds == [100, 101, 102, 103]

    reroll = family_engine.run(reroll_spec(spec, seed=900))
    assert reroll.seeds == [900, 901, 902, 903]
    assert not np.array_equal(_pixels(reroll.images[0]), _pixels(out.images[0]))


def test_the_same_seed_paints_the_same_image_and_the_tile_alone(family_engine: Any) -> None:
    _, first = _imagine(family_engine, "a fox --model tiny-zimage --seed 11")
    _, again = _imagine(family_engine, "a fox --model tiny-zimage --seed 11")
    assert np.array_equal(_pixels(first.images[2]), _pixels(again.images[2]))


@pytest.mark.parametrize("sampler", ["dpm++ 2m", "unipc"])
def test_flow_dpm_and_unipc_samplers_run_and_are_named_in_the_png(
    family_engine: Any, sampler: str
) -> None:
    _, euler = _imagine(family_engine, "a fox --model tiny-sd3 --seed 3")
    _, other = _imagine(family_engine, f"a fox --model tiny-sd3 --seed 3 --sampler {sampler}")
    label = parse_infotext(other.infotexts[0]).params["Sampler"]
    assert label == ("DPM++ 2M (flow sigmas)" if sampler == "dpm++ 2m" else "UniPC (flow sigmas)")
    assert not np.array_equal(_pixels(euler.images[0]), _pixels(other.images[0]))


def test_sd3_negative_prompt_and_cfg_change_the_picture(family_engine: Any) -> None:
    _, plain = _imagine(family_engine, "a fox --model tiny-sd3 --seed 4")
    _, negative = _imagine(family_engine, "a fox --model tiny-sd3 --seed 4 --no snow")
    assert "Negative prompt: snow" in negative.infotexts[0]
    assert not np.array_equal(_pixels(plain.images[0]), _pixels(negative.images[0]))


def test_an_edit_job_on_a_dit_family_is_refused_by_name(family_engine: Any) -> None:
    spec, out = _imagine(family_engine, "a fox --model tiny-flux --seed 1")
    zoom = spec.model_copy(update={"kind": JobKind.ZOOM})
    with pytest.raises(BadRequestError, match="family `flux`"):
        family_engine.run(zoom, out.images[0])


def test_make_tiny_models_families_lists_them_in_models_toml(
    family_build: tuple[Path, str],
) -> None:
    from inference.registry import load_registry

    registry = load_registry(family_build[0])
    families = {registry.model(m).family for m in MODELS}
    assert families == {"flux", "zimage", "sd3", "flux2"}
    assert registry.default == "tiny"  # the Stable Diffusion tiny model stays the default


def _memory_engine(family_build: tuple[Path, str], tmp: Path, extra: str) -> Any:
    from inference.registry import load_registry
    from inference.worker.engine import Engine

    folder = family_build[0].parent / "tiny-flux"
    toml = tmp / "models.toml"
    toml.write_text(
        f'[[models]]\nname = "f"\nsource = "{folder}"\nfamily = "flux"\n'
        f"default_steps = 3\nbase_size = 64\n{extra}\n"
    )
    return Engine(load_registry(toml), device="cpu")


def test_first_block_cache_reuses_work_and_stays_reproducible(
    family_build: tuple[Path, str], family_engine: Any, tmp_path: Path
) -> None:
    cached = _memory_engine(family_build, tmp_path, 'cache = "first_block"\ncache_threshold = 1.0')
    _, first = _imagine(cached, "a fox --seed 3")
    _, again = _imagine(cached, "a fox --seed 3")
    assert np.array_equal(_pixels(first.images[0]), _pixels(again.images[0]))
    (params,) = parse_prompt("a fox --model tiny-flux --seed 3 --steps 3")
    plain = family_engine.run(imagine_spec(params, family_engine.registry))
    assert not np.array_equal(_pixels(first.images[0]), _pixels(plain.images[0]))


def test_cpu_offload_and_taylorseer_load_and_paint_on_the_cpu(
    family_build: tuple[Path, str], tmp_path: Path
) -> None:
    engine = _memory_engine(family_build, tmp_path, 'cpu_offload = true\ncache = "taylorseer"')
    _, out = _imagine(engine, "a fox --seed 1")
    assert len(out.images) == 4


def test_quantization_without_its_package_is_one_line_naming_it(
    family_build: tuple[Path, str], tmp_path: Path
) -> None:
    from inference.errors import ModelFileError

    # bitsandbytes is not among Nanke's dependencies: a worker image that wants nf4 adds it.
    engine = _memory_engine(family_build, tmp_path, 'quantize = "nf4"')
    with pytest.raises(ModelFileError, match=r"needs the bitsandbytes package"):
        engine.load_models(["f"])
