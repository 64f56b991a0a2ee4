"""LoRAs, --chaos and --fast on the DiT families (flux, sd3, zimage, flux2) end to end on the
tiny family models; the LoRAs are made with peft on each tiny transformer and saved with the
pipeline's own `save_lora_weights`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.errors import ModelFileError
from inference.infotext import parse_infotext
from inference.resolve import imagine_spec
from prompt.parser import parse_prompt

# family → (pipeline class, transformer class)
FAMILIES = {
    "flux": ("FluxPipeline", "FluxTransformer2DModel"),
    "sd3": ("StableDiffusion3Pipeline", "SD3Transformer2DModel"),
    "zimage": ("ZImagePipeline", "ZImageTransformer2DModel"),
    "flux2": ("Flux2KleinPipeline", "Flux2Transformer2DModel"),
}


@pytest.fixture(scope="module")
def lora_engine(family_build: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    import torch

    from inference.registry import load_registry
    from inference.tiny import build_lora_kohya, build_sd15
    from inference.tiny_family_loras import build_family_lora
    from inference.worker.engine import Engine

    torch.set_num_threads(1)
    models = family_build[0].parent
    folder = tmp_path_factory.mktemp("family-loras")
    toml = 'lora_dir = "loras"\n'
    for family, (pipeline, transformer) in FAMILIES.items():
        source = models / f"tiny-{family}"
        build_family_lora(
            pipeline, transformer, source, folder / "loras" / f"{family}-style.safetensors"
        )
        toml += (
            f'[[models]]\nname = "{family}"\nsource = "{source}"\nfamily = "{family}"\n'
            "default_steps = 2\nbase_size = 64\n"
        )
    # An SD 1.5 LoRA (kohya's layout, as most shared files), to try on a FLUX model.
    build_lora_kohya(build_sd15(folder / "sd15"), folder / "loras" / "sd15-style.safetensors")
    flux = (
        f'source = "{models / "tiny-flux"}"\nfamily = "flux"\ndefault_steps = 3\nbase_size = 64\n'
    )
    toml += f'[[models]]\nname = "flux-fast"\n{flux}cache_threshold = 1.0\n'
    toml += (
        f'[[models]]\nname = "flux-cached"\n{flux}cache = "first_block"\ncache_threshold = 1.0\n'
    )
    (folder / "models.toml").write_text(toml)
    return Engine(load_registry(folder / "models.toml"), device="cpu", max_models=4)


def _run(engine: Any, text: str) -> Any:
    (params,) = parse_prompt(text)
    return engine.run(imagine_spec(params, engine.registry))


def _pixels(out: Any) -> np.ndarray:
    return np.stack([np.asarray(i, dtype=np.int16) for i in out.images])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_lora_changes_the_picture_and_weight_zero_is_the_base(
    lora_engine: Any, family: str
) -> None:
    base = _run(lora_engine, f"a fox --model {family} --seed 3")
    styled = _run(lora_engine, f"a fox --model {family} --seed 3 --lora {family}-style:1")
    assert np.abs(_pixels(base) - _pixels(styled)).mean() > 0.5
    text = parse_infotext(styled.infotexts[0])
    assert [(x.name, x.weight) for x in text.loras] == [(f"{family}-style", 1.0)]
    assert text.params["Lora hashes"].startswith(f"{family}-style: ")
    zero = _run(lora_engine, f"a fox <lora:{family}-style:0> --model {family} --seed 3")
    assert np.array_equal(_pixels(zero), _pixels(base))
    # A job without the LoRA runs the untouched model again.
    assert np.array_equal(
        _pixels(_run(lora_engine, f"a fox --model {family} --seed 3")), _pixels(base)
    )


def test_a_lora_for_another_family_is_one_line_and_leaves_nothing_loaded(
    lora_engine: Any,
) -> None:
    base = _run(lora_engine, "a fox --model flux --seed 5")
    with pytest.raises(ModelFileError) as caught:
        _run(lora_engine, "a fox --model flux --seed 5 --lora sd15-style:1")
    assert "LoRA 'sd15-style' could not be loaded" in caught.value.message
    assert "\n" not in caught.value.message
    from inference.worker.loras import adapter_name

    pipe = lora_engine.pipelines.model("flux").base
    loaded = [n for names in pipe.get_list_adapters().values() for n in names]
    assert adapter_name("sd15-style") not in loaded
    assert np.array_equal(_pixels(_run(lora_engine, "a fox --model flux --seed 5")), _pixels(base))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_chaos_moves_each_tile_its_own_way_and_repeats_per_seed(
    lora_engine: Any, family: str
) -> None:
    plain = _pixels(_run(lora_engine, f"a fox --model {family} --seed 8"))
    chaos = _pixels(_run(lora_engine, f"a fox --model {family} --seed 8 --chaos 80"))
    # (the tiny FLUX.2 barely listens to its text: another prompt moves it ~0.06 levels)
    assert all(np.abs(plain[i] - chaos[i]).mean() > 0.05 for i in range(4))
    again = _pixels(_run(lora_engine, f"a fox --model {family} --seed 8 --chaos 80"))
    assert np.array_equal(chaos, again)
    zero = _pixels(_run(lora_engine, f"a fox --model {family} --seed 8 --chaos 0"))
    assert np.array_equal(zero, plain)


def test_fast_turns_on_the_family_cache_for_that_job_alone(lora_engine: Any) -> None:
    plain = _run(lora_engine, "a fox --model flux-fast --seed 2")
    assert np.array_equal(
        _pixels(plain), _pixels(_run(lora_engine, "a fox --model flux --seed 2 --steps 3"))
    )
    assert "Cache" not in parse_infotext(plain.infotexts[0]).params
    fast = _run(lora_engine, "a fox --model flux-fast --seed 2 --fast")
    assert np.abs(_pixels(fast) - _pixels(plain)).mean() > 0.1  # blocks were skipped
    # The same cache a model configures with `cache = "first_block"`, at its threshold.
    cached = _run(lora_engine, "a fox --model flux-cached --seed 2")
    assert np.array_equal(_pixels(fast), _pixels(cached))
    params = parse_infotext(fast.infotexts[0]).params
    assert (params["Cache"], params["Cache threshold"]) == ("First-Block-Cache", "1")
    assert parse_infotext(cached.infotexts[0]).params["Cache"] == "First-Block-Cache"
    # The next job without --fast runs the whole transformer again.
    after = _run(lora_engine, "a fox --model flux-fast --seed 2")
    assert np.array_equal(_pixels(after), _pixels(plain))
