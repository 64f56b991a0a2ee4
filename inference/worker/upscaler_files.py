"""A GAN upscaler file (.pth or .safetensors) → a ready `RRDBNet` or `SRVGGNetCompact`.

The architecture and its sizes are read from the state dict's keys and shapes, in any of
these layouts (docs/engine.md "Upscale (4x)"):

- BasicSR / Real-ESRGAN: `conv_first`, `body.N.rdbK.convM`, … (RRDB) or `body.N` (compact),
  often wrapped in `params_ema` / `params`;
- old ESRGAN (A1111's and most community files): `model.0`, `model.1.sub.N.RDBK.convM.0`, …;
- the original ESRGAN repository: `conv_first`, `RRDB_trunk.N.RDBK.convM`, `trunk_conv`, ….

Anything else is refused in one line. `.pth` files are read with `weights_only=True`, so a
pickle cannot run code.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch
from torch import nn

from inference.errors import ModelFileError
from inference.worker.esrgan_arch import RRDBNet, SRVGGNetCompact

StateDict = dict[str, torch.Tensor]
_MEMBER = "the 4x upscaler cannot be loaded; the server's operator has been told"
_WRAPPERS = ("params_ema", "params", "state_dict", "model_state_dict")
_OLD_TAIL = {"3": "conv_up1", "6": "conv_up2", "8": "conv_hr", "10": "conv_last"}
_ORIGINAL = {
    "RRDB_trunk.": "body.",
    "trunk_conv.": "conv_body.",
    "upconv1.": "conv_up1.",
    "upconv2.": "conv_up2.",
    "HRconv.": "conv_hr.",
}


def _fail(path: Path, why: str) -> ModelFileError:
    return ModelFileError(_MEMBER, f"upscaler {path}: {why}")


def read_state_dict(path: Path) -> StateDict:
    """The tensors of `path`, unwrapped (BasicSR's `params_ema`, DataParallel's `module.`)."""
    if not path.is_file():
        raise _fail(path, "no such file; fix [upscaler] in models.toml")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            raw: object = load_file(str(path))
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's unpickler fails on junk in many ways (IndexError…)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(path, f"not a weights file torch can read safely ({first[:200]})") from None
    if isinstance(raw, dict):
        for key in _WRAPPERS:
            if isinstance(raw.get(key), dict):
                raw = raw[key]
                break
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise _fail(path, "holds no state dict of tensors")
    return {k.removeprefix("module."): v for k, v in raw.items()}


def _from_old_esrgan(sd: StateDict, path: Path) -> StateDict:
    """`model.N…` (old ESRGAN) → BasicSR names."""
    out: StateDict = {}
    top = max(int(m[1]) for k in sd if (m := re.match(r"model\.(\d+)\.", k)))
    if top != 10:  # 4x: two upsampling steps of three layers each after the trunk
        steps = (top - 4) / 3
        scale = f"{2 ** int(steps)}x" if steps == int(steps) and steps >= 0 else "not a 4x"
        raise _fail(path, f"an ESRGAN model at {scale}; Upscale (4x) needs a 4x model")
    blocks = {int(m[1]) for k in sd if (m := re.match(r"model\.1\.sub\.(\d+)\.RDB", k))}
    trunk = len(blocks)
    for key, value in sd.items():
        m = re.fullmatch(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)", key)
        if m:
            out[f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"] = value
            continue
        m = re.fullmatch(r"model\.(\d+)\.(weight|bias)", key)
        if m and m[1] in ("0", *_OLD_TAIL):
            out[f"{'conv_first' if m[1] == '0' else _OLD_TAIL[m[1]]}.{m[2]}"] = value
            continue
        m = re.fullmatch(rf"model\.1\.sub\.{trunk}\.(weight|bias)", key)
        if m:
            out[f"conv_body.{m[1]}"] = value
            continue
        raise _fail(path, f"unexpected key {key!r} for an old-layout ESRGAN model")
    return out


def _rrdb(sd: StateDict, path: Path) -> RRDBNet:
    first, last = sd.get("conv_first.weight"), sd.get("conv_last.weight")
    grow = sd.get("body.0.rdb1.conv1.weight")
    if first is None or last is None or grow is None:
        raise _fail(path, "an RRDB model without conv_first, conv_last or its first block")
    in_ch, out_ch = int(first.shape[1]), int(last.shape[0])
    if in_ch != out_ch:  # BasicSR's 2x and 1x models pixel-unshuffle their input first
        scale = _unshuffled_scale(in_ch, out_ch)
        raise _fail(path, f"an RRDB model at {scale}; Upscale (4x) needs a 4x model")
    blocks = 1 + max(int(m[1]) for k in sd if (m := re.match(r"body\.(\d+)\.rdb", k)))
    return RRDBNet(in_ch, out_ch, int(first.shape[0]), blocks, int(grow.shape[0]))


def _unshuffled_scale(in_ch: int, out_ch: int) -> str:
    return {4: "2x", 16: "1x"}.get(in_ch // max(out_ch, 1), "an unknown scale")


def _compact(sd: StateDict, path: Path) -> SRVGGNetCompact:
    convs = {int(m[1]) for k in sd if (m := re.fullmatch(r"body\.(\d+)\.weight", k))}
    top = max(convs)
    first, last = sd["body.0.weight"], sd[f"body.{top}.weight"]
    if first.dim() != 4 or last.dim() != 4 or top % 2:
        raise _fail(path, "a compact (SRVGG) model with an unexpected layer layout")
    in_ch, feat = int(first.shape[1]), int(first.shape[0])
    scale = math.isqrt(int(last.shape[0]) // in_ch)
    if scale * scale * in_ch != int(last.shape[0]) or scale != 4:
        raise _fail(path, f"a compact model at {scale}x; Upscale (4x) needs a 4x model")
    act = "prelu" if "body.1.weight" in sd else "leakyrelu"
    return SRVGGNetCompact(in_ch, in_ch, feat, (top - 2) // 2, scale, act)


def build_network(sd: StateDict, path: Path) -> nn.Module:
    """The network the keys describe, with its weights loaded (strictly)."""
    if "model.0.weight" in sd and any(k.startswith("model.1.sub.") for k in sd):
        sd = _from_old_esrgan(sd, path)
    elif any(k.startswith("RRDB_trunk.") for k in sd):
        sd = {_rename(k): v for k, v in sd.items()}
    if "conv_first.weight" in sd and "body.0.rdb1.conv1.weight" in sd:
        return _load(_rrdb(sd, path), sd, path)
    if "body.0.weight" in sd and "conv_first.weight" not in sd:
        return _load(_compact(sd, path), sd, path)
    sample = ", ".join(list(sd)[:3]) or "no keys"
    raise _fail(
        path,
        "not an ESRGAN/Real-ESRGAN RRDB or compact (SRVGG) model, the two architectures "
        f"Nanke runs (its keys begin {sample})",
    )


def _rename(key: str) -> str:
    for old, new in _ORIGINAL.items():
        if key.startswith(old):
            key = new + key[len(old) :]
            break
    return re.sub(r"\.RDB(\d)\.", r".rdb\1.", key)


def _load(net: nn.Module, sd: StateDict, path: Path) -> nn.Module:
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise _fail(path, f"its weights do not fit the detected network ({first[:200]})") from None
    return net.eval().requires_grad_(False)


def load_upscaler(path: Path) -> nn.Module:
    """Read, detect and build: the network on the CPU in float32, in eval mode."""
    return build_network(read_state_dict(path), path)
