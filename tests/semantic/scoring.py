"""Read a picture the way a person would: which colour, which shape, where, on what background.

For images painted by the trained tiny model (`inference.tiny_trained`, 64 px shapes). Each
pixel is given the nearest named colour of `inference.tiny_shapes` (shape colours and
backgrounds); the background is what most border pixels are; the shape is the largest connected
blob of a shape colour, told apart by how much of its bounding box it fills (square ≈ 0.81 of
its box's area as drawn, circle ≈ 0.79 … see `_SHAPE_FILL`); compared against drawn templates
so circle and square are not confused.

    reading = read(image)            # PIL image or uint8 array (H, W, 3)
    reading.colour, reading.shape, reading.position, reading.background
    colour_fraction(image, "red")    # share of pixels nearest to red (0…1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from inference import tiny_shapes

_NAMES = [*tiny_shapes.COLOURS, *tiny_shapes.BACKGROUNDS]
_RGB = np.array([*tiny_shapes.COLOURS.values(), *tiny_shapes.BACKGROUNDS.values()], np.float32)
_N_COLOURS = len(tiny_shapes.COLOURS)
# A pixel further than this (RGB distance) from every named colour counts as none of them.
_MAX_DISTANCE = 110.0


@dataclass(frozen=True)
class Reading:
    colour: str | None  # None: no shape found
    shape: str | None
    position: str | None
    background: str
    area: float  # the shape's share of the picture (0…1)

    def shows(self, colour: str | None = None, shape: str | None = None) -> bool:
        return (colour is None or self.colour == colour) and (shape is None or self.shape == shape)


def as_array(image: Any) -> np.ndarray:
    return np.asarray(image.convert("RGB") if hasattr(image, "convert") else image, np.float32)


def label_pixels(image: Any) -> np.ndarray:
    """Index into _NAMES of each pixel's nearest named colour; -1 when none is near."""
    pixels = as_array(image)
    dist = np.linalg.norm(pixels[:, :, None, :] - _RGB[None, None], axis=-1)
    labels = dist.argmin(axis=-1)
    labels[dist.min(axis=-1) > _MAX_DISTANCE] = -1
    return labels


def colour_fraction(image: Any, colour: str) -> float:
    """Share of the picture's pixels nearest to `colour` (a shape colour or background name)."""
    return float((label_pixels(image) == _NAMES.index(colour)).mean())


def _shape_of(mask: np.ndarray) -> str:
    ys, xs = np.nonzero(mask)
    cx, cy = (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2
    half = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) / 2
    best, best_iou = "circle", -1.0
    for shape in tiny_shapes.SHAPES:
        size = half / 0.9 if shape == "square" else half
        template = tiny_shapes.shape_mask(shape, cx, cy, size, size=mask.shape[0])
        iou = (template & mask).sum() / max((template | mask).sum(), 1)
        if iou > best_iou:
            best, best_iou = shape, iou
    return best


def _position_of(mask: np.ndarray) -> str:
    ys, xs = np.nonzero(mask)
    centre = np.array([xs.mean() + 0.5, ys.mean() + 0.5])
    dists = {n: np.linalg.norm(centre - np.array(p)) for n, p in tiny_shapes.POSITIONS.items()}
    return min(dists, key=dists.__getitem__)


def read(image: Any) -> Reading:
    labels = label_pixels(image)
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    bg_votes = [int((border == _N_COLOURS + i).sum()) for i in range(len(tiny_shapes.BACKGROUNDS))]
    background = list(tiny_shapes.BACKGROUNDS)[int(np.argmax(bg_votes))]
    shape_pixels = (labels >= 0) & (labels < _N_COLOURS)
    blobs, count = ndimage.label(shape_pixels)
    if count == 0:
        return Reading(None, None, None, background, 0.0)
    sizes = ndimage.sum(shape_pixels, blobs, index=range(1, count + 1))
    blob = blobs == int(np.argmax(sizes)) + 1
    if blob.sum() < 20:  # a few stray pixels are not a shape
        return Reading(None, None, None, background, 0.0)
    votes = np.bincount(labels[blob], minlength=_N_COLOURS)[:_N_COLOURS]
    return Reading(
        colour=_NAMES[int(np.argmax(votes))],
        shape=_shape_of(blob),
        position=_position_of(blob),
        background=background,
        area=float(blob.mean()),
    )


def follow_rate(images: list[Any], colour: str | None = None, shape: str | None = None) -> float:
    """Share of `images` that show `colour` and/or `shape` (what a person would say they show)."""
    return sum(read(img).shows(colour, shape) for img in images) / len(images)


def prompt_score(image: Any, colour: str, shape: str, position: str = "centre") -> float:
    """How well a picture shows `colour` `shape` at `position`: the IoU (0…1) of its pixels of
    that colour with the shape as the training data draws it there. A continuous score for
    comparing settings (CFG, strength, weights) over many seeds."""
    cx, cy = tiny_shapes.POSITIONS[position]
    template = tiny_shapes.shape_mask(shape, cx, cy)
    painted = label_pixels(image) == _NAMES.index(colour)
    return float((template & painted).sum() / max((template | painted).sum(), 1))


def mean_prompt_score(
    images: list[Any], colour: str, shape: str, position: str = "centre"
) -> float:
    return sum(prompt_score(img, colour, shape, position) for img in images) / len(images)
