"""The text of job messages and the pacing of their progress edits."""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

from bot.services.train_progress import Seen
from inference.edits import EDIT_KINDS, edit_label
from pipeline.contracts import JobKind, JobSpec, UpscaleMode

# Discord messages hold 2000 characters; leave room for the mention and the status.
_PROMPT_ROOM = 1700
PREVIEW_INTERVAL_S = 2.0

_KIND_LABEL = {
    JobKind.UPSCALE: "Upscaled",
    JobKind.VARY_SUBTLE: "Variations (Subtle)",
    JobKind.VARY_STRONG: "Variations (Strong)",
    JobKind.REROLL: "Reroll",
    JobKind.EDIT: "Edit",
}


def neutralise_mentions(text: str) -> str:
    """Member text copied into a bot message must not ping anyone: a zero-width space after
    every `@` turns `<@id>`, `<@&role>`, `@everyone` and `@here` into plain text."""
    return text.replace("@", "@\u200b")


def shown_prompt(spec: JobSpec) -> str:
    if spec.kind is JobKind.DESCRIBE:  # no prompt: the job asks for four
        return "Describe"
    text = neutralise_mentions(" ".join(spec.params.prompt.split())) or "(empty prompt)"
    # Stop markdown in the prompt from breaking the bold around it.
    text = text.replace("*", "\\*")
    if len(text) > _PROMPT_ROOM:
        text = text[: _PROMPT_ROOM - 1] + "…"
    return text


def _line(spec: JobSpec, mention: str, status: str) -> str:
    label = _KIND_LABEL.get(spec.kind)
    lead = f"**{shown_prompt(spec)}** — "
    if spec.train is not None:  # the name is [a-z0-9_-] (inference/train_config.py)
        lead = f"**LoRA `{spec.train.name}`** ({shown_prompt(spec)}) — training by "
    elif spec.kind in EDIT_KINDS:  # made from one upscaled image: no tile number
        lead += f"{edit_label(spec)} by "
    elif spec.upscale_mode is UpscaleMode.PICK and spec.source:
        lead += f"Image #{spec.source.index} by "
    elif spec.upscale_mode is UpscaleMode.GAN_4X:
        lead += "Upscaled (4x) by "
    elif label:
        tile = f" #{spec.source.index}" if spec.source else ""
        lead += f"{label}{tile} by "
    return f"{lead}{mention} ({status})"


def waiting(spec: JobSpec, mention: str, position: int | None, eta_s: float | None = None) -> str:
    status = "Waiting to start" if position is None else f"Waiting to start · position {position}"
    if position is not None and eta_s is not None:
        status += f" · {about(eta_s)}"
    return _line(spec, mention, status)


def about(seconds: float) -> str:
    """A wait as a member reads it: "about 40 s", "about 3 min"."""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    return f"about {round(seconds / 60)} min"


def running(spec: JobSpec, mention: str, percent: float | None) -> str:
    status = "Starting" if percent is None else f"{max(0, min(100, round(percent)))}%"
    return _line(spec, mention, status)


def train_running(spec: JobSpec, mention: str, seen: Seen | None, eta_s: float | None) -> str:
    """A training run's progress, "step 240/800 · loss 0.1432 · ETA 3 min" (`seen`: None
    before the first event)."""
    if seen is None or spec.train is None:
        return _line(spec, mention, "Starting · ❌ cancels with a refund of the unused part")
    steps = spec.train.steps
    step = seen.step if seen.step is not None else int(steps * seen.percent / 100)
    status = f"step {min(steps, step)}/{steps}"
    status += f" · loss {seen.loss:.4f}" if seen.loss is not None else f" · {round(seen.percent)}%"
    if eta_s is not None:
        status += f" · ETA {about(eta_s).removeprefix('about ')}"
    return _line(spec, mention, status)


def trained(spec: JobSpec, mention: str) -> str:
    """The finished LoRA's message: how to use it."""
    assert spec.train is not None
    name, trigger = spec.train.name, spec.train.trigger
    return (
        f"**LoRA `{name}`** — trained for {mention} (private to you: `/models mine`)\n"
        f"Use it: `/imagine {trigger} … --lora {name}:0.8`"
    )


def finished(spec: JobSpec, mention: str, mode: str = "fast") -> str:
    return _line(spec, mention, mode)


def failed(spec: JobSpec, mention: str, reason: str | None) -> str:
    why = f"Failed: {reason}" if reason else "Failed"
    return _line(spec, mention, f"{why} · credits refunded")


def cancelled(spec: JobSpec, mention: str, refunded_milli: int | None = None) -> str:
    """`refunded_milli`: a training run cancelled part-way got back the unused part only."""
    if refunded_milli is None:
        return _line(spec, mention, "Cancelled · credits refunded")
    whole, frac = divmod(refunded_milli, 1000)
    amount = f"{whole}" if not frac else f"{whole}.{frac:03d}".rstrip("0")
    return _line(spec, mention, f"Cancelled · {amount} credits refunded for the unused part")


def withheld_note(count: int) -> str:
    noun = "image was" if count == 1 else "images were"
    return f"\n-# {count} {noun} withheld by the safety checker: this channel is not marked NSFW."


class ProgressThrottle:
    """Lets a job's progress edit through at most once per interval (Discord rate limits)."""

    def __init__(
        self,
        interval_s: float = PREVIEW_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval_s
        self._clock = clock
        self._last: dict[tuple[UUID, bool], float] = {}  # (job, urgent) → last edit

    def allow(self, job_id: UUID, *, urgent: bool = False) -> bool:
        """`urgent` (a new training preview): also let it through when the last urgent one
        was an interval ago, so a preview is not held back by a plain update just before it,
        and the edits stay within two per interval."""
        now = self._clock()
        for key in ((job_id, False), (job_id, True)) if urgent else ((job_id, False),):
            last = self._last.get(key)
            if last is None or now - last >= self._interval:
                self._last[(job_id, False)] = self._last[key] = now
                return True
        return False

    def forget(self, job_id: UUID) -> None:
        self._last.pop((job_id, False), None)
        self._last.pop((job_id, True), None)
