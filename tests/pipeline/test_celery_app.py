"""The Celery configuration long GPU jobs depend on, and the broker messages the bot sends."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from kombu import Consumer, Queue
from pydantic import ValidationError

from pipeline.celery_app import RUN_JOB_TASK, build_celery_app, queue_name, worker_queues
from pipeline.client import CeleryJobClient
from pipeline.settings import PipelineSettings
from tests.fixtures.redis_server import RedisNamespace


def test_configured_for_long_gpu_jobs() -> None:
    pipeline = PipelineSettings(job_timeout_s=600, visibility_timeout_s=2400)
    conf = build_celery_app("redis://127.0.0.1:6379/0", pipeline).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.result_backend is None
    assert conf.task_ignore_result is True
    assert conf.broker_transport_options["visibility_timeout"] == 2400
    assert conf.broker_transport_options["queue_order_strategy"] == "priority"


def test_visibility_timeout_must_outlast_the_longest_job() -> None:
    with pytest.raises(ValidationError, match="visibility_timeout_s must exceed"):
        PipelineSettings(job_timeout_s=900, visibility_timeout_s=600)
    with pytest.raises(ValidationError, match="heartbeat_s"):
        PipelineSettings(lease_s=20, heartbeat_s=15)


def test_queues_per_family_fast_before_relax() -> None:
    assert queue_name("sdxl") == "nanke.sdxl"
    assert queue_name("sdxl", relax=True) == "nanke.sdxl.relax"
    assert worker_queues(["sd15", "sdxl", "sd15"]) == [
        "nanke.sd15",
        "nanke.sdxl",
        "nanke.sd15.relax",
        "nanke.sdxl.relax",
    ]
    with pytest.raises(ValueError, match="invalid model family"):
        queue_name("../x")


def _app(ns: RedisNamespace):  # type: ignore[no-untyped-def]
    return build_celery_app(ns.url, PipelineSettings(), key_prefix=ns.prefix)


def test_client_publishes_by_name_with_job_id_as_task_id(redis_ns: RedisNamespace) -> None:
    client = CeleryJobClient(_app(redis_ns))
    job_id = uuid.uuid4()
    assert client.queue_depth("nanke.sd15") == 0
    client.dispatch(job_id, "nanke.sd15")
    raw = redis_ns.client.lrange(redis_ns.prefix + "nanke.sd15", 0, -1)
    assert len(raw) == 1
    message = json.loads(raw[0])
    assert message["content-type"] == "application/json"
    assert message["headers"]["id"] == str(job_id)
    assert message["headers"]["task"] == RUN_JOB_TASK
    assert message["properties"]["body_encoding"] == "base64"
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == ([str(job_id)], {})
    assert client.queue_depth("nanke.sd15") == 1


def test_worker_takes_fast_jobs_before_relax_ones(redis_ns: RedisNamespace) -> None:
    app = _app(redis_ns)
    client = CeleryJobClient(app)
    relax_jobs = [uuid.uuid4() for _ in range(3)]
    fast_job = uuid.uuid4()
    for job in relax_jobs:
        client.dispatch(job, queue_name("sd15", relax=True))
    client.dispatch(fast_job, queue_name("sd15"))

    order: list[str] = []

    def on_message(message):  # type: ignore[no-untyped-def]
        order.append(message.headers["id"])
        message.ack()

    queues = [Queue(name) for name in worker_queues(["sd15"])]
    with app.connection_for_read() as conn, Consumer(conn, queues, on_message=on_message):
        while len(order) < 4:
            conn.drain_events(timeout=5)
    assert order == [str(fast_job)] + [str(j) for j in relax_jobs]
