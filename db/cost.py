"""What a job costs, in integer milli-credits (a pure function; the bot calls it at intake)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_REFERENCE = 512 * 512 * 30 * 4  # a 512² grid of 4 images at 30 steps costs exactly 1 credit
# Prompts up to this many 75-token chunks (about 225 tokens) cost the base price; each further
# chunk adds the base price again: every step attends to every chunk, so work grows with them.
INCLUDED_CHUNKS = 3


def job_cost_milli(width: int, height: int, steps: int, images: int, chunks: int = 1) -> int:
    """credits = (width × height / 512²) × (steps / 30) × images / 4
    × (1 + chunks beyond INCLUDED_CHUNKS), rounded up to 1 milli.

    Rounding up means no job is ever free by rounding.
    """
    values = (("width", width), ("height", height), ("steps", steps), ("images", images))
    for name, value in (*values, ("chunks", chunks)):
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    factor = 1 + max(0, chunks - INCLUDED_CHUNKS)
    return -(-1000 * width * height * steps * images * factor // _REFERENCE)


def upscale_4x_cost_milli(width: int, height: int) -> int:
    """Upscale (4x) runs one GAN pass, no denoising steps: priced as one image of its output
    size at one step (a 4096² result: 0.534 credits)."""
    return job_cost_milli(width, height, 1, 1)


# /describe: one BLIP caption (≤ 30 tokens) and one CLIP image embedding, about the work of a
# single 512² denoising step of a grid: a tenth of a credit, so trying it costs little.
DESCRIBE_COST_MILLI = 100


def credits_to_milli(credits: float | str) -> int:
    """'2.5' → 2500; refuses sub-milli precision so admins see exactly what they grant."""
    try:
        milli = Decimal(str(credits)) * 1000
    except InvalidOperation:
        raise ValueError(f"not a number of credits: {credits!r}") from None
    if milli != milli.to_integral_value():
        raise ValueError(f"credits have at most 3 decimals, got {credits!r}")
    return int(milli)


def format_credits(milli: int) -> str:
    """2500 → '2.5', 1000 → '1'."""
    whole, frac = divmod(abs(milli), 1000)
    sign = "-" if milli < 0 else ""
    return f"{sign}{whole}" if frac == 0 else f"{sign}{whole}.{frac:03d}".rstrip("0")


# A training step (forward, backward, and the forward again that gradient checkpointing
# recomputes) costs about 4 UNet evaluations of one sample; a grid step 8 (4 images with CFG).
TRAIN_STEPS_PER_CREDIT = 60  # at 512², batch 1
TRAIN_SAMPLES_MILLI = 1000  # the 4 samples at the end: one grid


def train_cost_milli(steps: int, resolution: int) -> int:
    """credits = steps / 60 × (resolution² / 512²) + 1 (the samples), rounded up to 1 milli.
    An SD 1.5 run of 800 steps costs 14.334 credits; SDXL 1000 steps at 1024² 67.667."""
    if steps <= 0 or resolution <= 0:
        raise ValueError("steps and resolution must be positive")
    area = resolution * resolution
    return -(-1000 * steps * area // (TRAIN_STEPS_PER_CREDIT * 512 * 512)) + TRAIN_SAMPLES_MILLI


def train_refund_milli(cost_milli: int, steps: int, steps_done: int) -> int:
    """What a cancelled run gives back: the unused steps' share, and the samples never painted."""
    if not 0 <= steps_done <= steps:
        raise ValueError("steps_done must lie between 0 and steps")
    training = cost_milli - TRAIN_SAMPLES_MILLI
    return training * (steps - steps_done) // steps + TRAIN_SAMPLES_MILLI
