"""The 2x2 grid of a batch (tile 1 top left, 2 top right, 3 bottom left, 4 bottom right)."""

from __future__ import annotations

from PIL import Image


def make_grid(images: list[Image.Image], columns: int = 2) -> Image.Image:
    width, height = images[0].size
    rows = (len(images) + columns - 1) // columns
    grid = Image.new("RGB", (columns * width, rows * height))
    for i, image in enumerate(images):
        grid.paste(image, ((i % columns) * width, (i // columns) * height))
    return grid
