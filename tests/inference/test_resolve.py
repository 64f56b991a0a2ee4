from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from inference.errors import BadRequestError, UnknownLoraError, UnknownSamplerError
from inference.registry import Registry, load_registry
from inference.resolve import (
    UserDefaults,
    denoise_strength,
    imagine_spec,
    reroll_spec,
    resolve,
    size_for,
    steps_for,
    upscale_spec,
    vary_spec,
)
from pipeline.contracts import JobKind, UpscaleMode
from prompt.request import ImagineParams, LoraRef, PromptPart


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    (tmp_path / "loras").mkdir()
    (tmp_path / "loras" / "ink.safetensors").write_bytes(b"x")
    path = tmp_path / "models.toml"
    path.write_text(
        'lora_dir = "loras"\n[[models]]\nname = "sd15"\nsource = "a/b"\nfamily = "sd15"\n'
        '[[models]]\nname = "xl"\nsource = "a/c"\nfamily = "sdxl"\ndefault_steps = 40\n',
        encoding="utf-8",
    )
    return load_registry(path)


def _params(**kw: object) -> ImagineParams:
    return ImagineParams(prompt="a fox", parts=(PromptPart(text="a fox"),), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ar", "base", "size"),
    [
        (None, 512, (512, 512)),
        ("1:1", 1024, (1024, 1024)),
        ("3:2", 512, (640, 448)),
        ("2:3", 512, (448, 640)),
        ("16:9", 512, (704, 384)),
        ("16:9", 1024, (1344, 768)),
        ("21:9", 1024, (1536, 640)),
        ("4:1", 64, (128, 64)),
    ],
)
def test_sizes_keep_base_area_in_multiples_of_64(
    ar: str | None, base: int, size: tuple[int, int]
) -> None:
    width, height = size_for(ar, base)
    assert (width, height) == size
    assert width % 64 == 0 and height % 64 == 0
    assert abs(width * height / base**2 - 1) < 0.25 or base == 64


def test_bad_aspect_ratio_is_a_message() -> None:
    with pytest.raises(BadRequestError, match="W:H"):
        size_for("wide", 512)


def test_quality_scales_default_steps_but_not_explicit_steps() -> None:
    assert steps_for(None, None, 30) == 30
    assert steps_for(None, 0.5, 30) == 15
    assert steps_for(None, 2, 30) == 60
    assert steps_for(None, 0.25, 2) == 1
    assert steps_for(12, 2, 30) == 12


def test_resolve_fills_defaults(reg: Registry) -> None:
    gen = resolve(_params(), reg)
    assert (gen.model, gen.width, gen.height, gen.steps) == ("sd15", 512, 512, 30)
    assert (gen.sampler, gen.cfg, gen.negative_prompt, gen.batch) == ("dpm++_2m_karras", 7, "", 4)
    seeds = {resolve(_params(), reg).seed for _ in range(5)}
    assert len(seeds) > 1, "an unset seed is random"
    gen = resolve(_params(model="xl", aspect_ratio="16:9", quality=0.5, seed=7, cfg=4.5), reg)
    assert (gen.width, gen.height, gen.steps, gen.seed, gen.cfg) == (1344, 768, 20, 7, 4.5)


def test_user_defaults_lose_to_the_prompt(reg: Registry) -> None:
    defaults = UserDefaults(model="xl", sampler="euler_a", cfg=5, negative_prompt="blurry")
    gen = resolve(_params(sampler="ddim"), reg, defaults)
    assert (gen.model, gen.sampler, gen.cfg, gen.negative_prompt) == ("xl", "ddim", 5, "blurry")
    assert resolve(_params(negative_prompt="rain"), reg, defaults).negative_prompt == "rain"


def test_unknown_sampler_and_lora_fail_before_any_gpu_work(reg: Registry) -> None:
    with pytest.raises(UnknownSamplerError, match="euler_a"):
        resolve(_params(sampler="euler_z"), reg)
    with pytest.raises(UnknownLoraError, match="ink"):
        resolve(_params(loras=(LoraRef(name="nope"),)), reg)


def test_follow_ups(reg: Registry) -> None:
    parent = imagine_spec(_params(seed=100, aspect_ratio="3:2"), reg)
    up = upscale_spec(parent, 3, UpscaleMode.CREATIVE, "k/3.png")
    assert up.kind == JobKind.UPSCALE and up.upscale_mode == UpscaleMode.CREATIVE
    assert (up.generation.width, up.generation.height) == (1280, 896)
    assert (up.generation.seed, up.generation.batch) == (102, 1)
    assert up.source is not None and (up.source.job_id, up.source.index) == (parent.job_id, 3)
    assert denoise_strength(up) == 0.55
    assert denoise_strength(upscale_spec(parent, 1, UpscaleMode.SUBTLE, "k")) == 0.3

    subtle = vary_spec(parent, 2, strong=False, source_key="k/2.png", seed=5)
    strong = vary_spec(parent, 2, strong=True, source_key="k/2.png")
    assert subtle.kind == JobKind.VARY_SUBTLE and strong.kind == JobKind.VARY_STRONG
    assert (subtle.generation.seed, subtle.generation.width, subtle.generation.batch) == (5, 640, 4)
    assert denoise_strength(subtle) == 0.6
    assert denoise_strength(strong, has_unclip=True) is None
    assert denoise_strength(strong, has_unclip=False) == 0.85

    again = reroll_spec(parent, seed=9)
    assert again.kind == JobKind.REROLL and again.generation.seed == 9
    assert again.generation.prompt == parent.generation.prompt and again.job_id != parent.job_id
    with pytest.raises(BadRequestError, match="1 to 4"):
        upscale_spec(parent, 5, UpscaleMode.SUBTLE, "k")
    assert isinstance(again.job_id, uuid.UUID)
