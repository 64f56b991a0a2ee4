"""A `describe` job on the worker: the member's image (stored; a URL was fetched before the
engine) through the safety checker, then the Describer (BLIP caption + CLIP ranking) → four
prompts. The output has no images: the prompts travel in `EngineOutput.prompts` to the job's
result (`JobResult.prompts`), and the bot shows them with a button each."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from inference.errors import BadRequestError
from inference.worker.describe import Describer
from inference.worker.output import Clock, EngineOutput
from inference.worker.safety import SafetyChecker, check_inputs
from pipeline.contracts import JobSpec


def run_describe(
    spec: JobSpec,
    describer: Describer,
    load_reference: Callable[[str], Image.Image] | None,
    checker: SafetyChecker | None,
    clock: Clock,
) -> EngineOutput:
    image_ref = spec.describe
    if image_ref is None or image_ref.sha256 is None or load_reference is None:
        raise BadRequestError("a describe job needs its image, stored before it runs")
    image = load_reference(image_ref.sha256)
    with clock("safety_check"):
        check_inputs([image], checker)
    with clock("describe"):
        description = describer.describe(image)
    return EngineOutput(
        images=[],
        seeds=[],
        width=image.width,
        height=image.height,
        infotexts=[],
        timings_ms=dict(clock.ms),
        prompts=description.prompts,
    )
