"""The synthetic data set the trained tiny model learns: flat shapes drawn in code, with captions.

A picture is one shape (circle, square, triangle) in one colour (red, green, blue, yellow) at
one position (centre, left, right, top, bottom) on one background (white, black, gray).
Captions name only what differs from the defaults, so a short prompt has one clear picture:

    a red circle                                   centre, white background
    a blue square on the left
    a yellow triangle at the top on a black background
    a circle                                       (colour left out: any colour)

Pure numpy, seeded: the same seed draws the same pictures and captions everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZE = 64
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 215, 30),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 245),
    "black": (15, 15, 15),
    "gray": (128, 128, 128),
}
SHAPES = ("circle", "square", "triangle")
# Shape centres (x, y) in pixels; "centre" is the unnamed default.
POSITIONS: dict[str, tuple[float, float]] = {
    "centre": (32, 32),
    "left": (17, 32),
    "right": (47, 32),
    "top": (32, 17),
    "bottom": (32, 47),
}
POSITION_WORDS = {
    "centre": "",
    "left": " on the left",
    "right": " on the right",
    "top": " at the top",
    "bottom": " at the bottom",
}
HALF = 13.0  # half the side of a shape's bounding box, in pixels


@dataclass(frozen=True)
class Picture:
    shape: str
    colour: str
    position: str
    background: str

    def caption(self, *, name_colour: bool = True) -> str:
        colour = f"{self.colour} " if name_colour else ""
        text = f"a {colour}{self.shape}{POSITION_WORDS[self.position]}"
        if self.background != "white":
            text += f" on a {self.background} background"
        return text


def shape_mask(
    shape: str, cx: float, cy: float, half: float = HALF, size: int = SIZE
) -> np.ndarray:
    """Boolean (size, size) mask of `shape` centred at (cx, cy), anti-aliasing left out."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx, dy = xs - cx, ys - cy
    if shape == "circle":
        return np.asarray(dx * dx + dy * dy <= half * half)
    if shape == "square":
        return np.asarray((np.abs(dx) <= half * 0.9) & (np.abs(dy) <= half * 0.9))
    if shape == "triangle":  # apex up, base at the bottom of the box
        inside_y = (dy >= -half) & (dy <= half)
        width_at_y = (dy + half) / 2.0  # 0 at the apex, `half` at the base
        return np.asarray(inside_y & (np.abs(dx) <= width_at_y))
    raise ValueError(f"unknown shape {shape!r}")


def draw(picture: Picture, jitter: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """The picture as uint8 RGB (SIZE, SIZE, 3); jitter = (dx, dy, dsize) in pixels."""
    cx, cy = POSITIONS[picture.position]
    mask = shape_mask(picture.shape, cx + jitter[0], cy + jitter[1], HALF + jitter[2])
    image = np.empty((SIZE, SIZE, 3), dtype=np.uint8)
    image[:] = BACKGROUNDS[picture.background]
    image[mask] = COLOURS[picture.colour]
    return image


def random_picture(rng: np.random.Generator) -> Picture:
    positions = list(POSITIONS)
    position = positions[rng.choice(len(positions), p=[0.4, 0.15, 0.15, 0.15, 0.15])]
    backgrounds = list(BACKGROUNDS)
    background = backgrounds[rng.choice(len(backgrounds), p=[0.6, 0.2, 0.2])]
    return Picture(
        shape=SHAPES[rng.integers(len(SHAPES))],
        colour=list(COLOURS)[rng.integers(len(COLOURS))],
        position=position,
        background=background,
    )


def dataset(n: int, seed: int = 0, colour: str | None = None) -> tuple[np.ndarray, list[Picture]]:
    """`n` pictures as float32 (n, 3, SIZE, SIZE) in [-1, 1], and what each shows; with
    `colour`, every shape is painted that colour (the pictures still say their drawn colour)."""
    rng = np.random.default_rng(seed)
    pictures = [random_picture(rng) for _ in range(n)]
    if colour is not None:
        painted = [Picture(p.shape, colour, p.position, p.background) for p in pictures]
        return _as_floats(painted, rng), pictures
    return _as_floats(pictures, rng), pictures


def _as_floats(pictures: list[Picture], rng: np.random.Generator) -> np.ndarray:
    jitters = rng.uniform(-1.5, 1.5, size=(len(pictures), 3))
    images = np.stack([draw(p, (j[0], j[1], j[2])) for p, j in zip(pictures, jitters, strict=True)])
    return images.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0


def captions(pictures: list[Picture], seed: int, drop_colour: float, drop_all: float) -> list[str]:
    """A caption per picture; some leave the colour out, some are empty (for guidance)."""
    rng = np.random.default_rng(seed)
    out = []
    for picture in pictures:
        roll = rng.random()
        if roll < drop_all:
            out.append("")
        else:
            out.append(picture.caption(name_colour=roll >= drop_all + drop_colour))
    return out
