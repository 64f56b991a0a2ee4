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
