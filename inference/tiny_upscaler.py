"""Tiny random-weight GAN upscalers (RRDB and compact) for tests and `make-tiny-models`.

They upscale 4x like RealESRGAN_x4plus / realesr-general-x4v3 but with a few channels and
blocks, so a 64² image takes milliseconds on a CPU. `save_upscaler` writes them in the key
layouts real files use (BasicSR, optionally wrapped in `params_ema`; old ESRGAN; the original
ESRGAN repository's), as .pth or .safetensors, so the loader's layout detection is exercised
on real files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from inference.worker.esrgan_arch import RRDBNet, SRVGGNetCompact

Layout = Literal["basicsr", "old", "original"]
_OLD_TAIL = {"conv_up1": "3", "conv_up2": "6", "conv_hr": "8", "conv_last": "10"}
_ORIGINAL = {
    "body.": "RRDB_trunk.",
    "conv_body.": "trunk_conv.",
    "conv_up1.": "upconv1.",
    "conv_up2.": "upconv2.",
    "conv_hr.": "HRconv.",
}


def tiny_rrdb(blocks: int = 1, feat: int = 8, grow: int = 4, seed: int = 0) -> RRDBNet:
    torch.manual_seed(seed)
    return RRDBNet(3, 3, feat, blocks, grow).eval()


def tiny_compact(convs: int = 2, feat: int = 8, act: str = "prelu", seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return SRVGGNetCompact(3, 3, feat, convs, 4, act).eval()


def old_esrgan_keys(sd: dict[str, torch.Tensor], blocks: int) -> dict[str, torch.Tensor]:
    """BasicSR RRDB names → the old ESRGAN `model.N` names (A1111's and community files)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        m = re.fullmatch(r"body\.(\d+)\.rdb(\d)\.conv(\d)\.(weight|bias)", key)
        if m:
            out[f"model.1.sub.{m[1]}.RDB{m[2]}.conv{m[3]}.0.{m[4]}"] = value
            continue
        layer, _, param = key.partition(".")
        if layer == "conv_first":
            out[f"model.0.{param}"] = value
        elif layer == "conv_body":
            out[f"model.1.sub.{blocks}.{param}"] = value
        else:
            out[f"model.{_OLD_TAIL[layer]}.{param}"] = value
    return out


def original_esrgan_keys(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """BasicSR RRDB names → the original ESRGAN repository's (`RRDB_trunk.N.RDBk.convM`)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        for new, old in _ORIGINAL.items():
            if key.startswith(new):
                key = old + key[len(new) :]
                break
        out[re.sub(r"\.rdb(\d)\.", r".RDB\1.", key)] = value
    return out


def save_upscaler(
    net: nn.Module, path: Path, layout: Layout = "basicsr", wrap: str | None = None
) -> Path:
    """Write `net`'s weights to `path` (.pth or .safetensors) in `layout`; `wrap` nests them
    under that key (BasicSR's `params_ema`), as Real-ESRGAN's own .pth files do."""
    sd = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    if layout == "old":
        assert isinstance(net, RRDBNet)
        sd = old_esrgan_keys(sd, len(net.body))
    elif layout == "original":
        sd = original_esrgan_keys(sd)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(sd, str(path))
    else:
        torch.save({wrap: sd} if wrap else sd, path)
    return path


def add_tiny_upscaler(directory: Path, toml: Path) -> Path:
    """A tiny RRDB upscaler in `directory` and its [upscaler] table appended to `toml`."""
    path = save_upscaler(tiny_rrdb(), directory / "tiny-upscaler.pth", wrap="params_ema")
    text = toml.read_text(encoding="utf-8")
    block = f'\n[upscaler]\nsource = "{path.name}"\nname = "tiny RRDB x4"\n'
    toml.write_text(text.rstrip("\n") + "\n" + block, encoding="utf-8")
    return path
