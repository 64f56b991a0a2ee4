"""/describe's result message: the image, its four prompts numbered, and a button per prompt
(`nk:d:<job>:<n>`) that runs it as /imagine after a prefilled box (bot/describe_actions.py).
Delivery (bot/services/delivery.py) posts it."""

from __future__ import annotations

from bot.services import formatting
from bot.services.custom_ids import Action, ButtonId
from bot.services.ports import JobView
from pipeline.image_intake import reference_key
from pipeline.job_images import with_stored

_NUMBERS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣")
HINT = "-# Press a number to run that prompt as /imagine (you can edit it first)."


def describe_custom_ids(job: JobView) -> list[str]:
    prompts = job.result.prompts if job.result is not None else ()
    return [ButtonId(Action.DESCRIBE, job.id, n).encode() for n in range(1, len(prompts) + 1)]


def describe_text(job: JobView, mention: str, mode: str) -> str:
    assert job.result is not None
    lines = [formatting.finished(job.spec, mention, mode)]
    for n, prompt in enumerate(job.result.prompts, start=1):
        emoji = _NUMBERS[n - 1] if n <= len(_NUMBERS) else f"{n}."
        lines.append(f"{emoji} {formatting.neutralise_mentions(prompt)}")
    lines.append(HINT)
    return "\n".join(lines)[:2000]


def described_image_key(job: JobView) -> str | None:
    """The storage key of the image the job described (a URL's once the worker stored it)."""
    if job.result is None:
        return None
    image = with_stored(job.spec, job.result.fetched).describe
    if image is None or image.sha256 is None:
        return None
    return reference_key(image.sha256)
