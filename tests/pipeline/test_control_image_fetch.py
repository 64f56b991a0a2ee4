"""A --cn image URL is fetched on the worker side like image prompts: stored by content, or
refused with zero connections to a private address (pipeline/job_images.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pipeline.contracts import JobKind, JobSpec
from pipeline.image_intake import load_reference
from pipeline.image_urls import FetchPolicy
from pipeline.job_images import ImageInputError, fetch_references
from pipeline.storage import LocalStorage
from prompt import parse_prompt
from prompt.request import Generation
from tests.pipeline.image_server import image_server
from tests.pipeline.test_image_fetch import STRICT_HTTP, TEST_POLICY


def _spec(url: str) -> JobSpec:
    [params] = parse_prompt(f"a house --cn canny {url} --cw 0.6")
    gen = Generation(
        model="tiny",
        prompt=params.prompt,
        parts=params.parts,
        width=64,
        height=64,
        steps=2,
        cfg=7,
        sampler="euler_a",
        seed=1,
        control=params.control,
    )
    return JobSpec(job_id=uuid.uuid4(), kind=JobKind.IMAGINE, params=params, generation=gen)


def test_the_control_url_is_fetched_and_stored_by_content(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    with image_server() as (base, state):
        spec = fetch_references(_spec(f"{base}/img.png"), storage, TEST_POLICY)
        assert state.connections >= 1
    control = spec.generation.control
    assert control is not None and control.weight == 0.6 and control.image is not None
    assert control.image.url is None and control.image.sha256 is not None
    assert load_reference(storage, control.image.sha256).size[0] > 0


def test_a_private_control_url_is_refused_without_a_connection(tmp_path: Path) -> None:
    with image_server() as (base, state):
        port = base.rsplit(":", 1)[1]
        policy: FetchPolicy = STRICT_HTTP
        with pytest.raises(ImageInputError, match="credits were refunded"):
            fetch_references(
                _spec(f"http://127.0.0.1:{port}/img.png"), LocalStorage(tmp_path), policy
            )
        assert state.connections == 0
