"""Read a picture the way a person would: which colour, which shape, where, on what background.

For images painted by the trained tiny model (`inference.tiny_trained`, 64 px shapes). Each
pixel is given the nearest named colour of `inference.tiny_shapes` (shape colours and
backgrounds); the background is what most border pixels are; the shape is the largest connected
blob of a shape colour, told apart by its corners (`corner_harmonics`: three for a triangle,
four on the diagonals for a square, none for a circle).

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
# Corner thresholds (corner_harmonics): about half of what the drawn shapes give.
_DIRECTIONS = 36
_TRIANGLE = 0.07
_SQUARE = 0.04


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


def corner_harmonics(mask: np.ndarray) -> tuple[float, float]:
    """How three-cornered and how square a blob is: the 3rd and 4th harmonics of its outline's
    distance from its centre, r(θ), over 36 directions, relative to the mean distance. A
    triangle's three corners give |a3| ≈ 0.15-0.19; a square's four corners on the diagonals
    give -Re(a4) ≈ 0.08 (peaks at 45°, 135°, …); a circle gives both ≈ 0 (≤ 0.011 as drawn)."""
    ys, xs = np.nonzero(mask)
    cx, cy = xs.mean() + 0.5, ys.mean() + 0.5
    ey, ex = np.nonzero(mask & ~ndimage.binary_erosion(mask))
    dx, dy = ex + 0.5 - cx, ey + 0.5 - cy
    bins = ((np.arctan2(dy, dx) + np.pi) / (2 * np.pi) * _DIRECTIONS).astype(int) % _DIRECTIONS
    radius = np.zeros(_DIRECTIONS)
    np.maximum.at(radius, bins, np.hypot(dx, dy))  # the outermost outline point each way
    angles = (np.arange(_DIRECTIONS) + 0.5) / _DIRECTIONS * 2 * np.pi - np.pi
    seen = radius > 0
    radius, angles = radius[seen], angles[seen]
    a3 = np.mean(radius * np.exp(-3j * angles)) / radius.mean()
    a4 = np.mean(radius * np.exp(-4j * angles)) / radius.mean()
    return float(abs(a3)), float(-a4.real)


def _shape_of(mask: np.ndarray) -> str:
    """By its corners, as a person tells the shapes apart: three corners make a triangle,
    four pointing at the diagonals a square (even with rounded corners or pinched sides,
    which a template's overlap called circles), none a circle."""
    three, four = corner_harmonics(mask)
    if three > _TRIANGLE and three > four:
        return "triangle"
    return "square" if four > _SQUARE else "circle"


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
