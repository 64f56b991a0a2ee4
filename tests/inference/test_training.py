"""DreamBooth-LoRA training on the tiny model: the loss goes down, the file is a kohya LoRA
that loads through Nanke's --lora path and diffusers' kohya loader, weight 0 is exactly the
base picture, a stopped run resumes from its checkpoint, and running out of GPU memory is a
clear message (issue 17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file

from inference.errors import OutOfMemoryError
from inference.registry import load_registry
from inference.tiny import build_sdxl
from inference.train_config import Subject, build_request
from prompt.request import LoraRef
from tests.inference.engine_helpers import pixels, spec

STEPS = 12


def pictures(count: int = 6, seed: int = 0) -> list[Image.Image]:
    """Distinct smooth pictures, portrait and landscape (two buckets)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        w, h = (96, 64) if i % 2 else (64, 96)
        base = rng.integers(0, 255, (3,))
        ramp = np.linspace(0, 1, w)[None, :, None] * rng.integers(0, 255, (3,))
        data = np.clip(base + ramp + np.zeros((h, 1, 1)), 0, 255).astype(np.uint8)
        out.append(Image.fromarray(data, "RGB"))
    return out


def request(**extra: Any) -> Any:
    extra.setdefault("steps", STEPS)
    return build_request(
        "mia",
        "tiny",
        "sd15",
        subject=Subject.PET,
        resolution=64,
        sample_steps=2,
        checkpoint_every=4,
        learning_rate=2e-2,
        **extra,
    ).model_copy(update={"rank": 4})


@pytest.fixture(scope="module")
def trainer(registry: Any) -> Any:
    from inference.worker.trainer import Trainer

    return Trainer(registry, torch.device("cpu"), torch.float32)


@pytest.fixture(scope="module")
def trained(trainer: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    folder = tmp_path_factory.mktemp("trained")
    out = trainer.train(
        request(), pictures(), folder / "work", folder / "loras" / "mia.safetensors"
    )
    return out, folder


@pytest.fixture(scope="module")
def lora_registry(trained: tuple[Any, Path], tiny_models: Path) -> Any:
    """A models.toml whose LoRA folder holds the trained LoRA, as /train installs it."""
    folder = trained[1]
    model = tiny_models.parent / "tiny-sd15"
    (folder / "models.toml").write_text(
        f'lora_dir = "loras"\n[[models]]\nname = "tiny"\nsource = "{model}"\n'
        'family = "sd15"\ndefault_steps = 2\nbase_size = 64\n',
        encoding="utf-8",
    )
    return load_registry(folder / "models.toml")


def test_training_lowers_the_loss_and_paints_four_samples(trained: tuple[Any, Path]) -> None:
    out, _ = trained
    assert out.probe_loss_after < out.probe_loss_before * 0.95
    assert len(out.losses) == STEPS
    assert out.resumed_from == 0
    assert len(out.samples) == 4
    assert all(s.size == (64, 64) for s in out.samples)


def test_the_lora_has_kohya_keys_and_metadata(trained: tuple[Any, Path]) -> None:
    path = trained[0].lora_path
    tensors = load_file(str(path))
    assert tensors and all(k.startswith("lora_unet_") for k in tensors)
    downs = [k for k in tensors if k.endswith(".lora_down.weight")]
    assert downs and all(k.replace("lora_down", "lora_up") in tensors for k in downs)
    assert all(k.replace(".lora_down.weight", ".alpha") in tensors for k in downs)
    assert any("_attn2_to_k." in k for k in downs)  # cross-attention: where the trigger acts
    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata()
    assert meta["ss_network_dim"] == "4" and meta["nanke_trigger"] == "nkmia"


def test_diffusers_kohya_loader_reads_the_lora(
    trained: tuple[Any, Path], tiny_models: Path
) -> None:
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(tiny_models.parent / "tiny-sd15")
    pipe.set_progress_bar_config(disable=True)

    def paint() -> np.ndarray:
        gen = torch.Generator().manual_seed(3)
        image = pipe("a photo of nkmia pet", num_inference_steps=2, generator=gen).images[0]
        return np.asarray(image, dtype=np.int16)

    base = paint()
    pipe.load_lora_weights(str(trained[0].lora_path), adapter_name="mia")
    assert pipe.get_list_adapters()["unet"] == ["mia"]
    assert np.abs(paint() - base).mean() > 0.5


def test_the_lora_paints_through_lora_and_weight_0_is_the_base(lora_registry: Any) -> None:
    from inference.worker.engine import Engine

    engine = Engine(lora_registry, device="cpu")
    text = "a photo of nkmia pet"
    base = pixels(engine.run(spec(lora_registry, text, seed=5)))
    with_lora = pixels(
        engine.run(spec(lora_registry, text, seed=5, loras=(LoraRef(name="mia", weight=1.0),)))
    )
    at_zero = pixels(
        engine.run(spec(lora_registry, text, seed=5, loras=(LoraRef(name="mia", weight=0.0),)))
    )
    assert np.abs(with_lora - base).mean() > 0.5
    assert np.array_equal(at_zero, base)


def test_a_stopped_run_resumes_from_its_checkpoint(
    trainer: Any, trained: tuple[Any, Path], tmp_path: Path
) -> None:
    from inference.worker.trainer import TrainingCancelled

    steps: list[int] = []
    out = tmp_path / "mia.safetensors"
    with pytest.raises(TrainingCancelled) as stopped:
        trainer.train(
            request(),
            pictures(),
            tmp_path / "work",
            out,
            on_progress=lambda p: steps.append(p.step),
            should_stop=lambda: len(steps) >= 6,
        )
    assert stopped.value.step == 6 and not out.exists()
    steps.clear()
    resumed = trainer.train(
        request(), pictures(), tmp_path / "work", out, on_progress=lambda p: steps.append(p.step)
    )
    assert resumed.resumed_from == 4  # the checkpoint every 4 steps, not step 0
    assert steps == list(range(5, STEPS + 1))
    # The same random draws as the uninterrupted run: the same LoRA, to float rounding.
    whole = load_file(str(trained[0].lora_path))
    again = load_file(str(out))
    assert whole.keys() == again.keys()
    assert all(torch.allclose(whole[k].float(), again[k].float(), atol=1e-3) for k in whole)


def test_a_checkpoint_of_another_run_is_not_resumed(trainer: Any, tmp_path: Path) -> None:
    from inference.worker.trainer import TrainingCancelled

    steps: list[int] = []
    with pytest.raises(TrainingCancelled):
        trainer.train(
            request(steps=8),
            pictures(),
            tmp_path,
            tmp_path / "a.safetensors",
            on_progress=lambda p: steps.append(p.step),
            should_stop=lambda: len(steps) >= 5,
        )
    other = trainer.train(request(steps=8), pictures(seed=9), tmp_path, tmp_path / "b.safetensors")
    assert other.resumed_from == 0  # other pictures: a new run


def test_out_of_gpu_memory_is_a_clear_message(trainer: Any, registry: Any, tmp_path: Path) -> None:
    # No GPU here: the UNet raises what CUDA raises when memory runs out.
    from inference.worker.trainer import ADAPTER

    unet = trainer.pipelines.model("tiny").base.unet

    def exhausted(*_: Any) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    hook = unet.register_forward_pre_hook(exhausted)
    try:
        with pytest.raises(OutOfMemoryError) as err:
            trainer.train(request(steps=2), pictures(), tmp_path, tmp_path / "x.safetensors")
    finally:
        hook.remove()
    assert "out of GPU memory training at 64 px" in err.value.message
    assert "try resolution" in err.value.message
    # The half-made adapter is gone: the warm model paints as before.
    assert ADAPTER not in (getattr(unet, "peft_config", None) or {})


def test_a_run_past_its_time_limit_fails_with_a_clear_message(trainer: Any, tmp_path: Path) -> None:
    from inference.worker.trainer import TimeLimitError

    with pytest.raises(TimeLimitError) as err:
        trainer.train(
            request(steps=3), pictures(), tmp_path, tmp_path / "x.safetensors", time_limit_s=1e-9
        )
    assert "passed your plan's time limit" in err.value.message
    assert "try fewer steps" in err.value.message
    assert not (tmp_path / "x.safetensors").exists()


def test_sdxl_trains_and_its_lora_paints_through_lora(
    registry: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The SDXL path: two text encoders, pooled embedding and size ids in the loss."""
    import dataclasses

    from inference.registry import ModelEntry
    from inference.worker.engine import Engine
    from inference.worker.trainer import Trainer

    folder = tmp_path_factory.mktemp("train-xl")
    build_sdxl(folder / "tiny-sdxl")
    entry = ModelEntry("xl", str(folder / "tiny-sdxl"), "dir", "sdxl", 2, 64)
    xl = dataclasses.replace(
        registry, models={"xl": entry}, default="xl", lora_dir=folder / "loras"
    )
    req = build_request(
        "mia", "xl", "sdxl", subject=Subject.PET, resolution=64, steps=6,
        sample_steps=2, checkpoint_every=100, learning_rate=2e-2,
    ).model_copy(update={"rank": 4})  # fmt: skip
    out = Trainer(xl, torch.device("cpu"), torch.float32).train(
        req, pictures(), folder / "work", folder / "loras" / "mia.safetensors"
    )
    assert len(out.losses) == 6 and all(np.isfinite(out.losses)) and len(out.samples) == 4
    engine = Engine(xl, device="cpu")
    text = "a photo of nkmia pet"
    base = pixels(engine.run(spec(xl, text, seed=5)))
    lora = (LoraRef(name="mia", weight=1.0),)
    assert np.abs(pixels(engine.run(spec(xl, text, seed=5, loras=lora))) - base).mean() > 0.5


def test_pictures_the_safety_checker_flags_are_refused(trainer: Any, tmp_path: Path) -> None:
    from inference.errors import BadRequestError

    model = trainer.safety_checker().model  # the tiny checker: flags nothing until lowered
    model.concept_embeds_weights.data.fill_(-1.0)
    try:
        with pytest.raises(BadRequestError) as err:
            trainer.train(request(steps=2), pictures(), tmp_path, tmp_path / "x.safetensors")
    finally:
        model.concept_embeds_weights.data.fill_(1.0)
    assert "picture(s) 1, 2, 3, 4, 5, 6 were flagged" in err.value.message
    assert not (tmp_path / "x.safetensors").exists()
