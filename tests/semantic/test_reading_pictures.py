"""The reader of tests/semantic/scoring.py reads drawn pictures right, sharp or softened."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from inference import tiny_shapes
from tests.semantic.scoring import read


def _pictures(n: int) -> tuple[np.ndarray, list[tiny_shapes.Picture]]:
    arrays, pictures = tiny_shapes.dataset(n, seed=11)
    images = ((arrays + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8)
    return images.transpose(0, 2, 3, 1), pictures


def test_every_drawn_picture_reads_as_what_it_shows() -> None:
    images, pictures = _pictures(300)
    wrong = [
        (picture, reading)
        for image, picture in zip(images, pictures, strict=True)
        if not (reading := read(image)).shows(picture.colour, picture.shape)
        or (reading.position, reading.background) != (picture.position, picture.background)
    ]
    assert not wrong, wrong[:5]


def test_softened_corners_still_read_as_their_shape() -> None:
    # A decoder's softness rounds corners: a person still sees a square or a triangle.
    images, pictures = _pictures(60)
    soft = [ndimage.gaussian_filter(i.astype(np.float32), (1.2, 1.2, 0)) for i in images]
    shapes = [read(i.round().astype(np.uint8)).shape for i in soft]
    assert shapes == [p.shape for p in pictures]
