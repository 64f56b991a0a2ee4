"""`nanke make-tiny-models --trained` writes a model Nanke loads like a downloaded SD 1.5 one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any


def test_training_reports_progress_and_time(trained_models: Path) -> None:
    log = (trained_models.parent / "training.log").read_text(encoding="utf-8")
    stages = set(re.findall(r"(\w+) +step +\d", log))
    assert stages == {"vae", "unet", "lora"}, log
    assert "trained in" in log and "loss" in log


def test_the_model_is_an_sd15_diffusers_folder_with_a_lora(
    trained_models: Path, trained_registry: Any
) -> None:
    entry = trained_registry.model()
    assert (entry.name, entry.family, entry.kind, entry.base_size) == ("shapes", "sd15", "dir", 64)
    index = json.loads((Path(entry.source) / "model_index.json").read_text())
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert index["vae"] == ["diffusers", "AutoencoderKL"]
    assert index["text_encoder"] == ["transformers", "CLIPTextModel"]
    assert trained_registry.loras() == ["green"]
