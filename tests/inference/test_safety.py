"""The output safety checker on the tiny models: one flag per image, images untouched.

The tiny checker's thresholds sit at the cosine maximum (nothing is flagged); `verdict` moves
them to the minimum so every image is, which is how these tests choose the checker's answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from inference.errors import ModelFileError
from inference.registry import SafetyCheckerEntry
from nanke.commands.job_folders import report
from tests.inference.engine_helpers import diff, spec


@contextmanager
def verdict(engine: Any, flag_everything: bool) -> Iterator[None]:
    model = engine.safety_checker().model
    threshold = -1.0 if flag_everything else 1.0
    model.concept_embeds_weights.data.fill_(threshold)
    try:
        yield
    finally:
        model.concept_embeds_weights.data.fill_(1.0)


def test_flags_follow_the_checker_and_never_touch_the_images(engine: Any, registry: Any) -> None:
    job = spec(registry, batch=4)
    clean = engine.run(job)
    assert clean.nsfw == [False] * 4 and "safety_check" in clean.timings_ms
    with verdict(engine, flag_everything=True):
        flagged = engine.run(job)
    assert flagged.nsfw == [True] * 4
    assert diff(clean, flagged) == 0  # the bot decides per channel; the engine only reports
    assert flagged.pngs == clean.pngs


def test_without_a_checker_every_flag_is_false(registry: Any) -> None:
    from inference.worker.engine import Engine

    bare = Engine(dataclasses.replace(registry, safety_checker=None), device="cpu")
    out = bare.run(spec(registry, batch=1, steps=1))
    assert bare.safety_checker() is None and out.nsfw == [False]
    assert "safety_check" not in out.timings_ms


def test_a_missing_checker_folder_says_how_to_fix(registry: Any, tmp_path: Path) -> None:
    from inference.worker.engine import Engine

    entry = SafetyCheckerEntry(source=str(tmp_path / "nope"), kind="dir")
    broken = Engine(dataclasses.replace(registry, safety_checker=entry), device="cpu")
    with pytest.raises(ModelFileError, match=r"fix \[safety_checker\]"):
        broken.run(spec(registry, batch=1, steps=1))


def test_the_cli_records_flags_and_notes_flagged_tiles(
    engine: Any, registry: Any, tmp_path: Path
) -> None:
    from nanke.commands.job_folders import write_job

    with verdict(engine, flag_everything=True):
        job = spec(registry, batch=1, steps=1)
        result = write_job(tmp_path, job, engine.run(job), registry)
    assert '"nsfw": [\n      true\n    ]' in (tmp_path / "job.json").read_text()
    lines: list[str] = []
    report(tmp_path, result, echo=lines.append)
    assert lines[-1] == "note: the safety checker flagged 1.png as possibly NSFW"
    lines.clear()
    report(tmp_path, result.model_copy(update={"nsfw": (False,)}), echo=lines.append)
    assert not any("flagged" in line for line in lines)
