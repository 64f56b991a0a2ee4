"""LoRAs as A1111 users bring them: wrong-architecture files, `<lora:name:te:unet>`, names with
spaces; single-file checkpoints shipped without a VAE or text encoder (issue 16, item 6)."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from inference.errors import ModelFileError
from prompt.request import LoraRef
from tests.inference.engine_helpers import pixels, spec


@pytest.fixture(scope="module")
def lora_dir(registry: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """glow (kohya, UNet + text encoder), its two halves, `my style` (= ink), and three
    LoRAs that do not fit the model: keys for another architecture, wider cross-attention
    (an SDXL LoRA on SD 1.5), and a fitting UNet part with a mis-sized text-encoder part."""
    out = tmp_path_factory.mktemp("loras")
    glow = load_file(str(registry.lora_dir / "glow.safetensors"))
    save_file(glow, str(out / "glow.safetensors"))
    save_file(
        {k: v for k, v in glow.items() if k.startswith("lora_unet_")},
        str(out / "glow unet.safetensors"),
    )
    save_file(
        {k: v for k, v in glow.items() if k.startswith("lora_te_")},
        str(out / "glow te.safetensors"),
    )
    shutil.copy(registry.lora_dir / "ink.safetensors", out / "my style.safetensors")
    flux = "transformer.single_transformer_blocks.0.attn.to_q.lora_"
    save_file(
        {flux + "A.weight": torch.zeros(4, 8), flux + "B.weight": torch.zeros(8, 4)},
        str(out / "flux.safetensors"),
    )

    def widened(prefix: str, part: str) -> dict[str, torch.Tensor]:
        out = dict(glow)
        for key in [k for k in out if k.startswith(prefix) and part in k and "lora_down" in k]:
            out[key] = torch.zeros(out[key].shape[0], out[key].shape[1] * 2)
        return out

    save_file(widened("lora_unet_", "attn2_to_k"), str(out / "xl.safetensors"))
    save_file(widened("lora_te_", "q_proj"), str(out / "half.safetensors"))
    return out


@pytest.fixture(scope="module")
def lora_engine(registry: Any, lora_dir: Path) -> tuple[Any, Any]:
    from inference.worker.engine import Engine

    with_loras = dataclasses.replace(registry, lora_dir=lora_dir)
    return with_loras, Engine(with_loras)


def run(setup: tuple[Any, Any], *loras: LoraRef) -> np.ndarray:
    registry, engine = setup
    return pixels(engine.run(spec(registry, loras=loras)))


def test_a_lora_for_another_model_is_one_line_and_leaves_no_adapter_behind(
    lora_engine: tuple[Any, Any],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    base = run(lora_engine)
    glow = run(lora_engine, LoraRef(name="glow"))
    caplog.set_level(logging.DEBUG)
    for name in ("flux", "xl", "half"):
        with pytest.raises(ModelFileError) as error:
            run(lora_engine, LoraRef(name="glow", weight=0.5), LoraRef(name=name))
        message = error.value.message
        assert message.startswith(
            f"LoRA '{name}' could not be loaded: it is a LoRA for another kind"
        )
        assert "\n" not in message and "Try without it" in message
        # The job without it, and with the LoRA it came with, are exactly as before.
        assert np.array_equal(run(lora_engine), base), name
        assert np.array_equal(run(lora_engine, LoraRef(name="glow")), glow), name
    said = caplog.text + "".join(capfd.readouterr())
    assert "size mismatch" not in said and "MISMATCH" not in said and "No LoRA keys" not in said


def test_separate_text_encoder_and_unet_weights(lora_engine: tuple[Any, Any]) -> None:
    full = run(lora_engine, LoraRef(name="glow"))
    assert np.array_equal(run(lora_engine, LoraRef(name="glow", weight=1, unet_weight=1)), full)
    # <lora:glow:0:1> is glow's UNet part alone; <lora:glow:1:0> its text-encoder part alone.
    unet_only = run(lora_engine, LoraRef(name="glow", weight=0, unet_weight=1))
    te_only = run(lora_engine, LoraRef(name="glow", weight=1, unet_weight=0))
    assert np.array_equal(unet_only, run(lora_engine, LoraRef(name="glow unet")))
    assert np.array_equal(te_only, run(lora_engine, LoraRef(name="glow te")))
    assert np.abs(unet_only - full).mean() > 0.5 and np.abs(te_only - full).mean() > 0.5


def test_a_lora_name_with_spaces_is_its_file(
    registry: Any, engine: Any, lora_engine: tuple[Any, Any]
) -> None:
    from prompt.parser import parse_prompt

    params = parse_prompt("a fox <lora:my style:0.7>")[0]
    assert params.loras == (LoraRef(name="my style", weight=0.7),)
    ink = pixels(engine.run(spec(registry, loras=(LoraRef(name="ink", weight=0.7),))))
    assert np.array_equal(run(lora_engine, *params.loras), ink)


@pytest.mark.parametrize(
    ("dropped", "fix"),
    [
        ("first_stage_model.", "add `vae = "),
        ("cond_stage_model.", "models.toml `source` at a full"),
    ],
)
def test_a_single_file_without_vae_or_text_encoder_names_the_key_to_fix(
    registry: Any, tmp_path: Path, dropped: str, fix: str
) -> None:
    from inference.worker.engine import Engine

    entry = next(e for e in registry.models.values() if e.kind == "single_file")
    tensors = load_file(entry.source)
    stripped = tmp_path / "pruned.safetensors"
    save_file({k: v for k, v in tensors.items() if not k.startswith(dropped)}, str(stripped))
    pruned = dataclasses.replace(entry, source=str(stripped))
    with_pruned = dataclasses.replace(registry, models={entry.name: pruned}, default=entry.name)
    with pytest.raises(ModelFileError) as error:
        Engine(with_pruned).run(spec(with_pruned))
    assert fix in error.value.message and "\n" not in error.value.message
    assert f"model {entry.name!r}" in error.value.message
    if dropped == "first_stage_model.":  # the fix works: the VAE from its own folder
        assert entry.config is not None
        fixed = dataclasses.replace(pruned, vae=str(Path(entry.config) / "vae"))
        with_vae = dataclasses.replace(registry, models={entry.name: fixed}, default=entry.name)
        assert pixels(Engine(with_vae).run(spec(with_vae))).std() > 1
