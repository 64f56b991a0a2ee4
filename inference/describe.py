"""/describe's words (torch-free): the vocabularies CLIP ranks, and four prompts from a caption
and the rankings (the CLIP-interrogator approach; the models run in inference/worker/describe.py).

Prompt n (1 … 4) is `caption, medium_n, style_n, by artist_n, lighting_n --ar W:H`, where term_n
is the n-th best of its vocabulary for the image: four distinct suggestions, best first. The
text is cleaned of prompt syntax (flags, brackets, braces), so each parses as one plain request.

`describe_spec(job_id, image, registry)`: /describe as a job (kind `describe`): the image (a
stored one's sha256, or a URL the worker fetches) and a nominal generation on the default model,
which routes the job to that model's queue; the worker runs inference/worker/describe_job.py.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from uuid import UUID

from inference.errors import BadRequestError, ModelFileError
from inference.registry import Registry
from pipeline.contracts import JobKind, JobSpec
from prompt.request import Generation, ImageRef, ImagineParams, PromptPart

VOCABULARIES = ("medium", "style", "artist", "lighting")
SUGGESTIONS = 4
# One suggestion fits a modal's text box, a button's run, and four fit one Discord message.
MAX_CAPTION_CHARS = 200
MAX_SUGGESTION_CHARS = 400
COMMON_RATIOS = ("1:1", "4:5", "5:4", "3:4", "4:3", "2:3", "3:2", "9:16", "16:9", "1:2", "2:1")
_SYNTAX = re.compile(r"[\[\]{}()<>|\\:`*_~#@]+")
_DASHES = re.compile(r"(?<!\S)(?:-{2,}|[—–])")  # a word that would start a flag
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Description:
    caption: str
    ranked: dict[str, tuple[str, ...]]  # vocabulary → its terms, best first
    aspect_ratio: str

    @property
    def prompts(self) -> list[str]:
        return compose(self.caption, self.ranked, self.aspect_ratio)


def clean(text: str, limit: int = MAX_CAPTION_CHARS) -> str:
    """Plain words: no prompt syntax, no flags, no control characters, one line, at most
    `limit` characters (cut at a word)."""
    text = _DASHES.sub(" ", _SYNTAX.sub(" ", _CONTROL.sub(" ", text)))
    text = " ".join(text.replace("--", "-").split()).strip(" ,.-")
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(" ,.-")
    return text


def compose(caption: str, ranked: dict[str, tuple[str, ...]], aspect_ratio: str) -> list[str]:
    caption = clean(caption) or "an image"
    prompts = []
    for n in range(SUGGESTIONS):
        words = [caption]
        for vocabulary in VOCABULARIES:
            terms = ranked.get(vocabulary, ())
            if terms:
                term = clean(terms[n % len(terms)], 80)
                words.append(f"by {term}" if vocabulary == "artist" else term)
        text = ", ".join(w for w in words if w)[: MAX_SUGGESTION_CHARS - 12].rstrip(" ,")
        prompts.append(f"{text} --ar {aspect_ratio}")
    return prompts


def nearest_ratio(width: int, height: int) -> str:
    """The common aspect ratio closest to width:height (in log scale)."""
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(int(w) / int(h)) - target)

    return min(COMMON_RATIOS, key=distance)


def load_vocabularies(folder: Path | None = None) -> dict[str, tuple[str, ...]]:
    """`medium.txt`, `style.txt`, `artist.txt`, `lighting.txt` from `folder` (models.toml
    `[describe] vocab_dir`) or the lists shipped with Nanke; each needs 4 distinct terms."""
    out: dict[str, tuple[str, ...]] = {}
    for name in VOCABULARIES:
        try:
            if folder is None:
                text = resources.files("inference").joinpath(f"describe_vocab/{name}.txt")
                raw = text.read_text(encoding="utf-8")
            else:
                raw = (folder / f"{name}.txt").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelFileError(
                f"cannot read the {name} vocabulary for /describe", detail=str(exc)
            ) from None
        terms = [line.split("#", 1)[0].strip() for line in raw.splitlines()]
        unique = tuple(dict.fromkeys(t for t in terms if t))
        if len(unique) < SUGGESTIONS:
            raise ModelFileError(
                f"the {name} vocabulary for /describe needs at least {SUGGESTIONS} terms, "
                f"one a line (it has {len(unique)})"
            )
        out[name] = unique
    return out


def describe_spec(job_id: UUID, image: ImageRef, registry: Registry) -> JobSpec:
    """The `describe` job for `image`; BadRequestError (before any charge) when this server
    has no [describe] models."""
    if registry.describe is None:
        raise BadRequestError(
            "/describe is not set up on this server (its operator adds a [describe] captioner "
            "and CLIP model to models.toml)"
        )
    entry = registry.model()
    parts = (PromptPart(text=""),)
    generation = Generation(
        model=entry.name,
        prompt="",
        parts=parts,
        width=entry.base_size,
        height=entry.base_size,
        steps=1,
        cfg=1.0,
        sampler="euler",
        seed=0,
        batch=1,
    )
    params = ImagineParams(prompt="", parts=parts)
    return JobSpec(
        job_id=job_id, kind=JobKind.DESCRIBE, params=params, generation=generation, describe=image
    )
