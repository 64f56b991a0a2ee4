"""Upscale (4x): small random RRDB and compact networks saved as real files in each key layout,
loaded back through the detection code, run whole and tiled."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from inference.errors import ModelFileError
from inference.tiny_upscaler import save_upscaler, tiny_compact, tiny_rrdb
from inference.upscaler_entry import UpscalerEntry
from inference.worker.esrgan_arch import RRDBNet, SRVGGNetCompact
from inference.worker.gan_upscale import GanUpscaler, tile_starts, upscale_tiled
from inference.worker.upscaler_files import load_upscaler

# (network, layout, file name, wrapper) as real files come: Real-ESRGAN's own .pth files wrap
# BasicSR keys in params_ema (RRDB) or params (compact); community ESRGAN files use the old
# `model.N` layout, the original ESRGAN release `RRDB_trunk`; converted files are .safetensors.
FILES = [
    ("rrdb", "basicsr", "RealESRGAN_x4plus.pth", "params_ema"),
    ("rrdb", "basicsr", "x4plus.safetensors", None),
    ("rrdb", "old", "4x_community_esrgan.pth", None),
    ("rrdb", "old", "4x_community_esrgan.safetensors", None),
    ("rrdb", "original", "RRDB_ESRGAN_x4.pth", None),
    ("compact", "basicsr", "realesr-general-x4v3.pth", "params"),
    ("compact", "basicsr", "general-x4v3.safetensors", None),
]


def _net(kind: str) -> torch.nn.Module:
    return tiny_rrdb(blocks=2) if kind == "rrdb" else tiny_compact(convs=3)


def _image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    # Smooth-ish content (a gradient plus noise), as a photo would be.
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _tensor(image: Image.Image) -> torch.Tensor:
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


@pytest.mark.parametrize(("kind", "layout", "name", "wrap"), FILES)
def test_each_layout_loads_as_the_network_that_was_saved(
    tmp_path: Path, kind: str, layout: Any, name: str, wrap: str | None
) -> None:
    net = _net(kind)
    path = save_upscaler(net, tmp_path / name, layout=layout, wrap=wrap)
    loaded = load_upscaler(path)
    assert type(loaded) is (RRDBNet if kind == "rrdb" else SRVGGNetCompact)
    x = _tensor(_image(24, 20))
    with torch.inference_mode():
        out, expected = loaded(x), net(x)
    assert out.shape == (1, 3, 80, 96)  # exactly 4x each side
    assert torch.allclose(out, expected, atol=1e-6)  # every weight landed in its place


def test_the_upscaler_makes_an_image_exactly_4x_each_side(tmp_path: Path) -> None:
    path = save_upscaler(tiny_rrdb(), tmp_path / "x4.pth", wrap="params_ema")
    upscaler = GanUpscaler.load(
        UpscalerEntry("tiny", path=str(path)), torch.device("cpu"), torch.float32, 32, 8
    )
    with torch.inference_mode():
        out = upscaler.upscale(_image(40, 24))  # bigger than a tile one way, smaller the other
    assert out.size == (160, 96) and out.mode == "RGB"


def _seam_zones(size: int, tile: int, overlap: int) -> np.ndarray:
    """Output pixels (at 4x) that two tiles share along one side."""
    zone = np.zeros(size * 4, dtype=bool)
    starts = tile_starts(size, tile, overlap)
    for a, b in itertools.pairwise(starts):
        zone[b * 4 : (a + tile) * 4] = True
    return zone


@pytest.mark.parametrize(("kind", "overlap"), [("compact", 8), ("rrdb", 24)])
def test_tiled_output_equals_the_whole_image_output(kind: str, overlap: int) -> None:
    """Away from the seams a tile sees all the context the network uses (the overlap exceeds
    its receptive field: about 18 input pixels for one RRDB block, 5 for the compact net), so
    it matches the image run in one piece; across the seams the blend stays within a few
    levels of 255."""
    net = tiny_rrdb(blocks=1) if kind == "rrdb" else tiny_compact(convs=3)
    width, height, tile = 112, 80, 48
    x = _tensor(_image(width, height, seed=3))
    with torch.inference_mode():
        whole = net(x)
        tiled = upscale_tiled(net, x, tile, overlap)
    assert tiled.shape == whole.shape == (1, 3, height * 4, width * 4)
    diff = (tiled - whole).abs()[0].amax(0).numpy()
    seams = _seam_zones(height, tile, overlap)[:, None] | _seam_zones(width, tile, overlap)[None]
    assert seams.any() and (~seams).any()
    assert diff[~seams].max() < 1e-5
    assert diff[seams].max() < 3 / 255


def test_without_overlap_the_seams_show() -> None:
    """The control for the test above: tiles cut with no shared context differ from the
    whole image along their cuts, far beyond that tolerance."""
    net = tiny_rrdb(blocks=1)
    x = _tensor(_image(96, 48, seed=3))
    with torch.inference_mode():
        whole = net(x)
        cut = upscale_tiled(net, x, 48, 0)
    column = (cut - whole).abs()[0, :, :, 48 * 4 - 2 : 48 * 4 + 2]
    assert column.max() > 3 / 255


def test_tiles_cover_every_pixel_and_end_at_the_edge() -> None:
    assert tile_starts(40, 64, 16) == [0]
    assert tile_starts(100, 48, 16) == [0, 32, 52]
    assert tile_starts(96, 48, 0) == [0, 48]


def _one_line(exc: pytest.ExceptionInfo[ModelFileError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    # The member's part never carries a path: that is the operator's detail.
    assert "/" not in exc.value.message
    return text


def test_a_file_that_is_not_weights_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.pth"
    path.write_text("these are not weights\n")
    with pytest.raises(ModelFileError) as exc:
        load_upscaler(path)
    assert "not a weights file" in _one_line(exc)


def test_an_unknown_architecture_is_refused_in_one_line(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "swinir.safetensors"
    save_file({"layers.0.attn.qkv.weight": torch.zeros(4, 4)}, str(path))
    with pytest.raises(ModelFileError) as exc:
        load_upscaler(path)
    text = _one_line(exc)
    assert "not an ESRGAN/Real-ESRGAN RRDB or compact (SRVGG) model" in text
    assert "layers.0.attn.qkv.weight" in text


def test_a_2x_model_is_refused_by_its_scale(tmp_path: Path) -> None:
    # BasicSR's 2x RRDB pixel-unshuffles its input: 12 channels in, 3 out.
    torch.manual_seed(0)
    net = RRDBNet(12, 3, 8, 1, 4)
    with pytest.raises(ModelFileError) as exc:
        load_upscaler(save_upscaler(net, tmp_path / "RealESRGAN_x2plus.pth", wrap="params_ema"))
    assert "2x" in _one_line(exc)
    compact2x = SRVGGNetCompact(3, 3, 8, 2, 2)
    with pytest.raises(ModelFileError) as exc:
        load_upscaler(save_upscaler(compact2x, tmp_path / "compact-x2.safetensors"))
    assert "2x" in _one_line(exc)


def test_a_missing_file_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError) as exc:
        load_upscaler(tmp_path / "nowhere.pth")
    assert "no such file" in _one_line(exc)
