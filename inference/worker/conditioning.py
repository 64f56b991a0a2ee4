"""A job's text conditioning, step by step: A1111 prompt editing, alternation and AND.

`encode_conditioning` encodes what a job's prompt needs (`prompt/schedules.py` reads the
syntax). A prompt without `[a:b:when]`, `[a|b]` or AND, whose negative has as many chunks as
the prompt (or `pad_negative`), takes the plain path: diffusers gets the embeddings and nothing
else changes. Otherwise the UNet's forward is wrapped for the job (`inference/worker/
guided_unet.py`) and, at each model call, gets the conditionings of that step, as A1111's CFG
denoiser does:

- step s (counting model calls from 0) uses the first schedule entry whose end is ≥ s;
- AND subprompts are run side by side and their guided predictions added:
  ε = ε_u + Σ w_i (ε_i − ε_u), so the pipeline's CFG gives ε_u + g Σ w_i (ε_i − ε_u);
- subprompts of different lengths are padded by repeating their last vector (A1111);
- a negative prompt of another length runs in its own UNet call (A1111's default), or is
  padded with empty-prompt chunks when `pad_negative`;
- `--rescale φ` (CFG rescale, diffusers' `guidance_rescale`, which not every pipeline has) and
  `--dynthres P:M` (dynamic thresholding, `inference/worker/dynthres.py`) are applied by the
  wrapper too, so txt2img, img2img and unCLIP all honour them.

Schedules count the member's steps (`Generation.steps`), as A1111 counts `p.steps`.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from inference.worker.guided_unet import Cond, StepConds, guided_unet
from inference.worker.prompt_encoding import Encoded, encode_parts, encode_prompt
from prompt.request import DynThres, Generation, PromptPart
from prompt.schedules import has_and, is_scheduled, prompt_schedule, split_and

__all__ = ["Cond", "Conditioning", "StepConds", "encode_conditioning"]


Schedule = list[tuple[int, Cond]]


@dataclass
class Conditioning:
    subprompts: list[tuple[float, Schedule]]
    negative: Schedule
    empty: Cond | None = None  # the empty prompt, for pad_negative
    tokens: int = 0
    chunks: int = 1
    plain: Encoded | None = None  # set on the plain path
    guidance: float = 7.0  # the job's CFG scale
    rescale: float = 0.0  # CFG rescale φ, applied by the wrapped UNet
    dynthres: DynThres | None = None  # dynamic thresholding, applied by the wrapped UNet
    scheduler: Any = None  # the job's scheduler (use_scheduler)

    def use_scheduler(self, scheduler: Any) -> None:
        """The job's scheduler: dynamic thresholding reads its ᾱ; a sampler that reads the
        unconditional prediction or scales the CFG (DDIM CFG++) needs the wrapped UNet."""
        self.scheduler = scheduler
        if getattr(scheduler, "needs_uncond", False):
            self.plain = None

    def at(self, step: int) -> StepConds:
        conds = [(w, _entry(schedule, step)) for w, schedule in self.subprompts]
        return StepConds(conds, _entry(self.negative, step))

    def finite(self) -> bool:
        if self.plain is not None:
            return self.plain.finite()
        conds = [c for _, s in self.subprompts for _, c in s] + [c for _, c in self.negative]
        tensors = [t for c in conds for t in (c.hidden, c.pooled) if t is not None]
        return all(bool(torch.isfinite(t).all()) for t in tensors)

    def pipeline_kwargs(self, chaos: int, seeds: list[int]) -> dict[str, Any]:
        """The embeddings handed to diffusers: the real ones on the plain path, otherwise
        placeholders of the right shapes (the wrapped UNet replaces them at every call)."""
        from inference.worker.job_args import embeds

        if self.plain is not None:
            return embeds(self.plain, chaos, seeds)
        first = self.subprompts[0][1][0][1]
        placeholder = Encoded(first.hidden, first.hidden, first.pooled, first.pooled)
        return embeds(placeholder, 0, seeds)

    def applied(self, unet: Any, chaos: int, seeds: list[int]) -> Any:
        """A context in which `unet` follows this conditioning (nothing on the plain path)."""
        if self.plain is not None:
            return nullcontext()
        return guided_unet(unet, self, chaos, seeds)


def _entry(schedule: Schedule, step: int) -> Cond:
    for end, cond in schedule:
        if step <= end:
            return cond
    return schedule[-1][1]


def _needs_steps(gen: Generation) -> bool:
    texts = [p.text for p in gen.parts] + [gen.negative_prompt]
    return (len(gen.parts) == 1 and has_and(gen.parts[0].text)) or any(map(is_scheduled, texts))


@torch.inference_mode()
def encode_conditioning(
    encoders: list[tuple[Any, Any]], gen: Generation, *, pad_negative: bool = False
) -> Conditioning:
    """Everything the job's UNet calls need, encoded once before the first step."""
    skip = gen.clip_skip or 1
    if not _needs_steps(gen):
        enc = encode_prompt(
            encoders, gen.parts, gen.negative_prompt, gen.clip_skip, pad_negative=pad_negative
        )
        cond, uncond = Cond(enc.cond, enc.pooled), Cond(enc.uncond, enc.uncond_pooled)
        out = Conditioning([(1.0, [(gen.steps, cond)])], [(gen.steps, uncond)])
        out.tokens, out.chunks = enc.tokens, enc.chunks
        out.guidance, out.rescale, out.dynthres = gen.cfg, gen.rescale, gen.dynthres
        if enc.cond.shape[1] == enc.uncond.shape[1] and not gen.rescale and not gen.dynthres:
            out.plain = enc
        return out
    out = _scheduled(encoders, gen, skip, pad_negative)
    out.guidance, out.rescale, out.dynthres = gen.cfg, gen.rescale, gen.dynthres
    return out


def _scheduled(
    encoders: list[tuple[Any, Any]], gen: Generation, skip: int, pad_negative: bool
) -> Conditioning:
    cache: dict[tuple[tuple[str, float], ...], Cond] = {}
    tokens = 0

    def encode(parts: tuple[tuple[str, float], ...]) -> Cond:
        nonlocal tokens
        if parts not in cache:
            prompt_parts = tuple(PromptPart(text=t, weight=w) for t, w in parts)
            hidden, pooled, count = encode_parts(encoders, prompt_parts, skip)
            tokens = max(tokens, count)
            cache[parts] = Cond(hidden, pooled)
        return cache[parts]

    steps = gen.steps
    subs: list[tuple[float, tuple[tuple[str, float], ...]]]
    if len(gen.parts) == 1 and has_and(gen.parts[0].text):
        subs = [(w, ((text, 1.0),)) for text, w in split_and(gen.parts[0].text)]
    else:
        subs = [(1.0, tuple((p.text, p.weight) for p in gen.parts) or (("", 1.0),))]
    subprompts = [
        (w, [(end, encode(texts)) for end, texts in _parts_schedule(parts, steps)])
        for w, parts in subs
    ]
    prompt_tokens = tokens
    negative_schedule = prompt_schedule(gen.negative_prompt, steps)
    negative = [(end, encode(((text, 1.0),))) for end, text in negative_schedule]
    conditioning = Conditioning(subprompts, negative, tokens=prompt_tokens)
    if pad_negative:
        conditioning.empty = encode((("", 1.0),))
    conditioning.chunks = max(c.hidden.shape[1] for _, s in subprompts for _, c in s) // 77
    return conditioning


def _parts_schedule(
    parts: tuple[tuple[str, float], ...], steps: int
) -> list[tuple[int, tuple[tuple[str, float], ...]]]:
    """The schedule of a `::` multi-prompt: at each end step, every part's text then."""
    schedules = [prompt_schedule(text, steps) for text, _ in parts]
    ends = sorted({end for schedule in schedules for end, _ in schedule})
    out = []
    for end in ends:
        texts = [next(t for e, t in schedule if end <= e) for schedule in schedules]
        out.append((end, tuple(zip(texts, (w for _, w in parts), strict=True))))
    return out
