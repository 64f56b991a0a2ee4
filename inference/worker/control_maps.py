"""Control image → the map a ControlNet reads: canny edges (computed, no model), depth and line
art (models from models.toml `[preprocessors]`, loaded once on first use).

Every map is white-on-black RGB at the job's size, as A1111's ControlNet extension makes them:
the control image is first cropped to the job's aspect ratio and resized ("Crop and Resize").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps
from scipy import ndimage

from inference.control import CANNY_HIGH, CANNY_LOW
from inference.errors import ModelFileError
from inference.registry import Registry


def crop_resize(image: Image.Image, width: int, height: int) -> Image.Image:
    """The middle of `image` at the width:height ratio, resized to width × height."""
    return ImageOps.fit(image.convert("RGB"), (width, height), Image.Resampling.LANCZOS)


def canny(image: Image.Image, low: int = CANNY_LOW, high: int = CANNY_HIGH) -> Image.Image:
    """OpenCV's Canny (3×3 Sobel, L1 magnitude, the strongest colour channel), in numpy:
    thin edges by non-maximum suppression, then hysteresis between `low` and `high`."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    gx = np.stack([ndimage.sobel(rgb[..., c], axis=1, mode="nearest") for c in range(3)], -1)
    gy = np.stack([ndimage.sobel(rgb[..., c], axis=0, mode="nearest") for c in range(3)], -1)
    strongest = np.argmax(np.abs(gx) + np.abs(gy), axis=-1)[..., None]
    gx = np.take_along_axis(gx, strongest, -1)[..., 0]
    gy = np.take_along_axis(gy, strongest, -1)[..., 0]
    magnitude = np.abs(gx) + np.abs(gy)
    thin = magnitude * _local_maximum(magnitude, gx, gy)
    weak = thin >= low
    labels, count = ndimage.label(weak, structure=np.ones((3, 3), dtype=bool))
    keep = np.zeros(count + 1, dtype=bool)
    keep[np.unique(labels[thin >= high])] = True
    keep[0] = False
    edges = np.where(keep[labels], 255, 0).astype(np.uint8)
    return Image.fromarray(edges).convert("RGB")


def _local_maximum(magnitude: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Where the magnitude is a maximum across the edge (along the gradient, in 4 directions)."""
    padded = np.pad(magnitude, 1)
    h, w = magnitude.shape

    def shifted(dy: int, dx: int) -> np.ndarray:
        return padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    angle = np.rad2deg(np.arctan2(gy, gx)) % 180
    direction = ((angle + 22.5) // 45).astype(int) % 4  # 0: →, 1: ↘, 2: ↓, 3: ↙
    out = np.zeros_like(magnitude, dtype=bool)
    for index, (dy, dx) in enumerate(((0, 1), (1, 1), (1, 0), (1, -1))):
        ahead, behind = shifted(dy, dx), shifted(-dy, -dx)
        peak = (magnitude >= ahead) & (magnitude > behind)
        out |= (direction == index) & peak
    return out


class Preprocessors:
    """The depth and line-art models, each loaded on first use and kept."""

    def __init__(self, registry: Registry, device: torch.device, dtype: torch.dtype) -> None:
        self.registry = registry
        self.device = device
        self.dtype = dtype
        self._loaded: dict[str, Any] = {}

    def make_map(self, module: str, image: Image.Image, width: int, height: int) -> Image.Image:
        fitted = crop_resize(image, width, height)
        if module == "canny":
            return canny(fitted)
        if module == "depth":
            return self._depth(fitted)
        if module == "lineart":
            return self._lineart(fitted)
        raise ValueError(f"unknown ControlNet module {module!r}")

    def _model(self, module: str) -> Any:
        if module not in self._loaded:
            located = self.registry.preprocessors.get(module)
            if located is None:
                raise ModelFileError(f"no [preprocessors] {module} in models.toml")
            if located.kind != "hub" and not Path(located.source).exists():
                raise ModelFileError(
                    f"the {module} preprocessor {located.source} does not exist (models.toml)"
                )
            try:
                self._loaded[module] = self._load(module, located.source)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise ModelFileError(
                    f"cannot load the {module} preprocessor", detail=f"{located.source}: {exc}"
                ) from None
        return self._loaded[module]

    def _load(self, module: str, source: str) -> Any:
        if module == "lineart":
            from inference.worker.lineart_net import load_lineart

            return load_lineart(Path(source)).to(self.device, torch.float32)
        from transformers import AutoModelForDepthEstimation, AutoProcessor

        # AutoProcessor picks the Pillow image processor without torchvision (not installed).
        processor = AutoProcessor.from_pretrained(source)
        model = AutoModelForDepthEstimation.from_pretrained(source).to(self.device).eval()
        return processor, model

    def _depth(self, image: Image.Image) -> Image.Image:
        processor, model = self._model("depth")
        inputs = processor(images=image, return_tensors="pt").to(self.device)
        depth = model(**inputs).predicted_depth[:1, None].float()  # [1, 1, h, w], near = high
        depth = torch.nn.functional.interpolate(
            depth, size=(image.height, image.width), mode="bicubic", align_corners=False
        )[0, 0]
        return _to_map(depth)

    def _lineart(self, image: Image.Image) -> Image.Image:
        net = self._model("lineart")
        # The network halves the size twice: pad to a multiple of 4, then crop back.
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
        tensor = pixels.permute(2, 0, 1)[None].to(self.device)
        h, w = tensor.shape[-2:]
        tensor = torch.nn.functional.pad(tensor, (0, -w % 4, 0, -h % 4), mode="reflect")
        lines = net(tensor)[0, 0, :h, :w]
        return _to_map(1.0 - lines, normalise=False)  # white lines on black


def _to_map(values: torch.Tensor, normalise: bool = True) -> Image.Image:
    values = values.float().cpu()
    if normalise:
        low, high = values.min(), values.max()
        values = (values - low) / (high - low) if high > low else torch.zeros_like(values)
    gray = (values.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return Image.fromarray(gray).convert("RGB")
