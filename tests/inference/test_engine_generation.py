"""imagine on the tiny sd15 model: batch, seeds, samplers, prompts, tile, chaos, sizes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from inference.errors import (
    BadRequestError,
    NaNOutputError,
    UnknownLoraError,
    UnknownModelError,
    UnknownSamplerError,
)
from inference.infotext import parse_infotext
from inference.png import read_parameters
from inference.samplers import SAMPLERS
from prompt.request import LoraRef, PromptPart
from tests.inference.engine_helpers import PROMPT, diff, pixels, spec, with_gen


def test_imagine_makes_a_batch_of_four_with_grid_infotext_timings(
    registry: Any, engine: Any
) -> None:
    calls: list[tuple[int, int, tuple[int, ...] | None]] = []
    job = spec(registry, batch=4, seed=1000, steps=4, negative_prompt="blurry")

    def progress(s: int, t: int, lat: Any) -> None:
        calls.append((s, t, None if lat is None else tuple(lat.shape)))

    out = engine.run(job, on_progress=progress)
    assert len(out.images) == 4 and out.seeds == [1000, 1001, 1002, 1003]
    assert (out.width, out.height) == (64, 64) and out.grid.size == (128, 128)
    assert np.array_equal(np.asarray(out.grid)[64:, 64:], np.asarray(out.images[3]))
    # Every step reports; latents (a preview) only every 2nd step here, never at step 1 and
    # not at the last step (the result follows at once).
    assert calls == [(1, 4, None), (2, 4, (4, 4, 8, 8)), (3, 4, None), (4, 4, None)]
    for i, png in enumerate(out.pngs):
        info = parse_infotext(read_parameters(png) or "")
        assert info.params["Seed"] == str(1000 + i) and info.negative_prompt == "blurry"
        assert info.prompt == PROMPT and info.size == (64, 64)
    assert read_parameters(out.grid_png or b"") == out.infotexts[0]
    for key in ("text_encode", "denoise", "denoise_per_step", "vae_decode", "image_encode"):
        assert out.timings_ms[key] > 0, key
    assert len({img.tobytes() for img in out.images}) == 4, "tiles differ"


def test_same_seed_same_pixels_and_each_tile_reproducible_alone(registry: Any, engine: Any) -> None:
    job = spec(registry, batch=4, seed=7, steps=4)
    first, second = engine.run(job), engine.run(job)
    assert np.array_equal(pixels(first), pixels(second))
    other = engine.run(with_gen(job, seed=8))
    assert diff(first, other) > 1
    # Tile 3 of the batch (seed 9) alone: equal up to batched-matmul rounding.
    alone = engine.run(with_gen(job, seed=9, batch=1))
    assert diff(pixels(first)[2:3], alone) < 0.5
    assert diff(pixels(first)[1:2], alone) > 1


def _covering() -> list[str]:
    """Every diffusers-run sampler, every native sampler and every schedule at least once
    (all ~140 combinations would take minutes; tests/inference/test_ksamplers.py checks the
    arithmetic)."""
    from prompt.samplers import DIFFUSERS_SAMPLERS, NATIVE_BASES, SCHEDULES

    schedules = [k for k in SCHEDULES if k not in ("automatic", "uniform", "karras")]
    # 12 bases cycling through the 9 schedules diffusers does not run: each one at least once.
    native = [f"{base}_{schedules[i % len(schedules)]}" for i, base in enumerate(NATIVE_BASES)]
    return [
        *DIFFUSERS_SAMPLERS,
        *native,
        "restart",
        "dpm++_3m_sde_karras",
        "dpm_fast",
        "ddim_cfgpp",
    ]


@pytest.mark.parametrize("name", _covering())
def test_every_sampler_runs_as_configured(registry: Any, engine: Any, name: str) -> None:
    out = engine.run(spec(registry, sampler=name, steps=3, seed=3))
    image = pixels(out)
    assert image.shape == (1, 64, 64, 3) and image.std() > 1
    scheduler = engine.pipelines.model("tiny").base.scheduler
    assert type(scheduler).__name__ == SAMPLERS[name].scheduler
    if SAMPLERS[name].scheduler == "KDiffusionScheduler":
        assert name.startswith(scheduler.config.sampler)
        assert name.endswith(scheduler.config.schedule) or scheduler.config.schedule == "uniform"
    else:
        karras = bool(getattr(scheduler.config, "use_karras_sigmas", False))
        assert karras == name.endswith("karras")
    assert parse_infotext(out.infotexts[0]).sampler_name == name


def test_samplers_differ_and_sde_is_seeded(registry: Any, engine: Any) -> None:
    euler = engine.run(spec(registry, sampler="euler", steps=3))
    euler_a = engine.run(spec(registry, sampler="euler_a", steps=3))
    assert diff(euler, euler_a) > 0.5
    sde = [engine.run(spec(registry, sampler="dpm++_sde", steps=3)) for _ in range(2)]
    assert np.array_equal(pixels(sde[0]), pixels(sde[1]))


def test_loras_switch_combine_and_weight_zero_is_the_base_image(registry: Any, engine: Any) -> None:
    def run(*loras: tuple[str, float]) -> np.ndarray:
        refs = tuple(LoraRef(name=n, weight=w) for n, w in loras)
        return pixels(engine.run(spec(registry, loras=refs)))

    base = run()
    ink, glow = run(("ink", 1.0)), run(("glow", 1.0))
    both = run(("ink", 1.0), ("glow", 1.0))
    assert diff(base, ink) > 1 and diff(base, glow) > 1
    assert diff(both, ink) > 1 and diff(both, glow) > 1
    assert diff(run(("ink", 0.5)), ink) > 0.2
    assert np.array_equal(run(("ink", 0.0)), base)
    assert np.array_equal(run(("ink", 0.0), ("glow", 0.0)), base)
    assert np.array_equal(run(), base), "no LoRA after LoRAs: the base model, not reloaded"
    # Order only changes float rounding, far less than either LoRA does.
    assert diff(run(("glow", 1.0), ("ink", 1.0)), both) < diff(both, ink) / 4


def test_clip_skip_changes_the_image(registry: Any, engine: Any) -> None:
    plain = engine.run(spec(registry))
    assert np.array_equal(pixels(engine.run(spec(registry, clip_skip=1))), pixels(plain))
    assert diff(engine.run(spec(registry, clip_skip=2)), plain) > 0.5


def test_weights_parts_and_negative_prompt_change_the_image(registry: Any, engine: Any) -> None:
    plain = engine.run(spec(registry, "a red fox"))
    assert diff(engine.run(spec(registry, "a red (fox:1.6)")), plain) > 0.2
    assert diff(engine.run(spec(registry, "a red fox", negative_prompt="snow")), plain) > 0.2
    parts = (PromptPart(text="a red fox"), PromptPart(text="a castle", weight=1.0))
    mixed = engine.run(spec(registry, "a red fox::a castle", parts=parts))
    assert diff(mixed, plain) > 0.2
    heavier = (parts[0], PromptPart(text="a castle", weight=3.0))
    assert diff(engine.run(spec(registry, "a red fox::a castle::3", parts=heavier)), mixed) > 0.2


def test_long_prompts_are_encoded_whole_in_75_token_chunks(registry: Any, engine: Any) -> None:
    from inference.worker.prompt_encoding import chunk_tokens

    tokenizer = engine.pipelines.model("tiny").base.tokenizer
    words = " ".join(["a quiet harbor town at dawn with boats and gulls"] * 10)  # 100 tokens
    chunks = chunk_tokens(tokenizer, words + ", a red fox")
    n_tokens = len(tokenizer(words + ", a red fox", add_special_tokens=False)["input_ids"])
    assert len(chunks) == 2 and sum(len(c) for c in chunks) == n_tokens > 100
    # A full chunk breaks after its last comma when that comma is near the end (A1111).
    commas = chunk_tokens(tokenizer, "fox, " * 36 + "hat hat hat hat hat")
    assert [len(c) for c in commas] == [72, 5]
    assert [len(c) for c in chunk_tokens(tokenizer, "a fox BREAK a hat")] == [2, 2]
    fox = engine.run(spec(registry, words + ", a red fox"))
    hat = engine.run(spec(registry, words + ", a blue hat"))
    assert diff(fox, hat) > 0.2, "words after token 77 still change the image"


def test_textual_inversion_token_is_loaded(registry: Any, engine: Any) -> None:
    tokenizer = engine.pipelines.model("tiny").base.tokenizer
    assert "tinytoken" in tokenizer.get_vocab()
    assert diff(engine.run(spec(registry, "a tinytoken fox")), engine.run(spec(registry, "a fox")))


@pytest.mark.parametrize(
    ("ar", "size"), [("4:1", (128, 64)), ("1:4", (64, 128)), ("1:1", (64, 64))]
)
def test_aspect_ratio_sizes(registry: Any, engine: Any, ar: str, size: tuple[int, int]) -> None:
    out = engine.run(spec(registry, aspect_ratio=ar, steps=2))
    assert out.images[0].size == size and (out.width, out.height) == size


def test_tile_mode_is_seamless_and_restored(registry: Any, engine: Any) -> None:
    from inference.worker.tiling import circular_padding

    pipe = engine.pipelines.model("tiny").base
    convs = [m for m in pipe.unet.modules() if isinstance(m, torch.nn.Conv2d)]
    plain = engine.run(spec(registry, aspect_ratio="4:1", steps=2))
    tiled = engine.run(spec(registry, aspect_ratio="4:1", steps=2, tile=True))
    assert diff(plain, tiled) > 0.5 and parse_infotext(tiled.infotexts[0]).params["Tiling"]
    assert all(c.padding_mode == "zeros" for c in convs), "padding restored after the job"
    # Seamless: with wrap-around convolutions, shifting the start noise by 2 latent pixels
    # shifts the whole picture by 16 px, i.e. the image has no edges.
    gen = torch.Generator().manual_seed(0)
    latents = torch.randn(1, 4, 8, 16, generator=gen)
    embeds = torch.randn(1, 77, 32, generator=gen)
    call = {"prompt_embeds": embeds, "negative_prompt_embeds": embeds * 0, "height": 64}
    call.update(width=128, num_inference_steps=2, output_type="np")
    with circular_padding(pipe.unet, pipe.vae):
        a = pipe(latents=latents, **call).images[0]
        b = pipe(latents=torch.roll(latents, 2, dims=3), **call).images[0]
    assert np.abs(np.roll(a, 16, axis=1) - b).max() < 1e-3


def test_chaos_pushes_tiles_further_from_the_prompt(registry: Any, engine: Any) -> None:
    job = spec(registry, batch=4, seed=11)
    calm = pixels(engine.run(job))
    assert np.array_equal(pixels(engine.run(with_gen(job, chaos=0))), calm)
    some = pixels(engine.run(with_gen(job, chaos=20)))
    lots = pixels(engine.run(with_gen(job, chaos=100)))
    for i in range(4):
        assert 0 < diff(some[i], calm[i]) < diff(lots[i], calm[i]), f"tile {i + 1}"
    # A chaos tile is still reproducible alone from its own seed.
    alone = pixels(engine.run(with_gen(job, chaos=100, seed=13, batch=1)))
    assert diff(lots[2:3], alone) < 0.5


def test_single_file_checkpoint_paints_like_the_diffusers_folder(
    registry: Any, engine: Any
) -> None:
    folder = engine.run(spec(registry, model="tiny"))
    single = engine.run(spec(registry, model="tiny-single-file"))
    assert np.array_equal(pixels(folder), pixels(single))


def test_clear_errors(registry: Any, engine: Any) -> None:
    with pytest.raises(UnknownSamplerError, match="unknown sampler 'warp'"):
        engine.run(with_gen(spec(registry), sampler="warp"))
    with pytest.raises(UnknownLoraError, match="available: glow, ink"):
        engine.run(with_gen(spec(registry), loras=(LoraRef(name="nope"),)))
    with pytest.raises(UnknownModelError, match="tiny, tiny-single-file"):
        engine.run(with_gen(spec(registry), model="nope"))
    from inference.resolve import upscale_spec

    with pytest.raises(BadRequestError, match="source image"):
        engine.run(upscale_spec(spec(registry), 1, "subtle", "k"))  # type: ignore[arg-type]


def test_nan_output_is_an_error_not_an_image(registry: Any) -> None:
    from inference.worker.engine import Engine

    broken = Engine(registry)
    with torch.no_grad():
        broken.pipelines.model("tiny").base.unet.conv_out.weight.fill_(float("nan"))
    with pytest.raises(NaNOutputError, match="NaN"):
        broken.run(spec(registry, steps=2))


def test_conditioning_that_is_not_finite_fails_before_the_first_step(
    engine: Any, registry: Any
) -> None:
    """Issue 21 item 13: a weight the parser would refuse (1e40), reaching the worker anyway,
    fails at once with a message instead of running every step for a NaN image."""
    from inference.errors import BadRequestError

    steps: list[int] = []
    extreme = "a fox (snow:" + "9" * 40 + ")"
    with pytest.raises(BadRequestError, match="attention weights are too extreme"):
        engine.run(spec(registry, extreme, steps=2), on_progress=lambda i, n, x: steps.append(i))
    assert steps == []


def test_bad_or_missing_model_file_is_a_clear_error(registry: Any, tmp_path: Any) -> None:
    import dataclasses

    from inference.errors import ModelFileError
    from inference.registry import ModelEntry
    from inference.worker.engine import Engine

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint")
    config = registry.model("tiny").source
    entries = {
        name: ModelEntry(name, str(path), "single_file", "sd15", 2, 64, config)
        for name, path in (("bad", garbage), ("gone", tmp_path / "gone.safetensors"))
    }
    broken = Engine(dataclasses.replace(registry, models={**registry.models, **entries}))
    with pytest.raises(ModelFileError, match="cannot load model 'bad'"):
        broken.run(with_gen(spec(registry), model="bad"))
    with pytest.raises(ModelFileError, match=r"gone\.safetensors does not exist"):
        broken.run(with_gen(spec(registry), model="gone"))


def test_out_of_memory_is_a_message(
    registry: Any, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inference.errors import OutOfMemoryError
    from inference.worker import engine as engine_module

    def exhausted(*args: Any, **kwargs: Any) -> Any:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(engine_module, "encode_conditioning", exhausted)
    with pytest.raises(OutOfMemoryError, match=r"out of GPU memory at 64x64 x1: try a smaller"):
        engine.run(spec(registry))


def test_a_lora_that_does_not_fit_is_a_clear_error(registry: Any, tmp_path: Any) -> None:
    import dataclasses

    from safetensors.torch import save_file

    from inference.errors import ModelFileError
    from inference.worker.engine import Engine

    junk = {"lora_unet_no_such_layer.lora_down.weight": torch.zeros(4, 8)}
    junk["lora_unet_no_such_layer.lora_up.weight"] = torch.zeros(8, 4)
    save_file(junk, str(tmp_path / "alien.safetensors"))
    with_alien = dataclasses.replace(registry, lora_dir=tmp_path)
    other = Engine(with_alien)
    with pytest.raises(ModelFileError, match="LoRA 'alien' could not be loaded") as alien:
        other.run(spec(with_alien, loras=(LoraRef(name="alien"),)))
    plain = other.run(spec(registry))  # the model is still usable afterwards
    assert pixels(plain).std() > 1

    # Issue 21 item 15: a damaged file. The member's message names the LoRA and what to do,
    # never the server's path or the library's words; the operator's detail keeps both.
    (tmp_path / "broken.safetensors").write_bytes(b"\x00 not a safetensors file")
    with pytest.raises(ModelFileError) as broken:
        other.run(spec(with_alien, loras=(LoraRef(name="broken"),)))
    for error in (alien.value, broken.value):
        assert str(tmp_path) not in error.message and "does not fit" not in error.message
        assert "Try without it, or ask the server's operator" in error.message
        assert error.detail is not None and str(tmp_path) in error.detail
