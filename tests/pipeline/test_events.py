"""Job events over a Redis stream (real Redis) and in memory: nothing missed, nothing doubled."""

from __future__ import annotations

import threading
import time
import uuid

import redis
import redis.asyncio as aredis

from pipeline.contracts import JobEvent, JobEventKind
from pipeline.events import (
    InMemoryEvents,
    PreviewThrottle,
    RedisEventPublisher,
    RedisEventReader,
)
from tests.fixtures.redis_server import RedisNamespace


def _events(n: int) -> list[JobEvent]:
    job = uuid.uuid4()
    return [JobEvent(job_id=job, kind=JobEventKind.PROGRESS, percent=i % 100) for i in range(n)]


async def _drain(reader: RedisEventReader, *, ack: bool = True) -> list[JobEvent]:
    got = []
    while batch := await reader.read(count=10, block_s=0.05):
        got.extend(d.event for d in batch)
        if ack:
            await reader.ack([d.entry_id for d in batch])
    return got


def _pair(ns: RedisNamespace, consumer: str, **kw: float):  # type: ignore[no-untyped-def]
    stream = ns.prefix + "events"
    pub = RedisEventPublisher(redis.Redis.from_url(ns.url), stream, maxlen=1000)
    reader = RedisEventReader(
        aredis.Redis.from_url(ns.url), stream, consumer=consumer, group="bot", **kw
    )
    return pub, reader


async def test_published_events_arrive_in_order_once(redis_ns: RedisNamespace) -> None:
    pub, reader = _pair(redis_ns, "bot-1")
    sent = _events(5)
    sent.append(
        JobEvent(
            job_id=sent[0].job_id, kind=JobEventKind.PROGRESS, percent=50, preview_jpeg=b"\xff\xd8x"
        )
    )
    for event in sent:
        pub.publish(event)
    assert await _drain(reader) == sent
    assert await _drain(reader) == []


async def test_restarted_bot_gets_what_it_had_not_acknowledged(redis_ns: RedisNamespace) -> None:
    pub, reader = _pair(redis_ns, "bot-1")
    sent = _events(6)
    for event in sent[:4]:
        pub.publish(event)
    first = await reader.read(count=4, block_s=0.1)
    await reader.ack([first[0].entry_id])  # handled one, then "crashed"
    for event in sent[4:]:
        pub.publish(event)

    _, restarted = _pair(redis_ns, "bot-1")
    assert await _drain(restarted) == sent[1:]


async def test_events_left_by_a_vanished_consumer_are_claimed(redis_ns: RedisNamespace) -> None:
    pub, gone = _pair(redis_ns, "bot-old")
    sent = _events(3)
    for event in sent:
        pub.publish(event)
    assert len(await gone.read(count=10, block_s=0.1)) == 3  # never acknowledged

    _, other = _pair(redis_ns, "bot-new", claim_idle_s=0.3)
    started = time.monotonic()
    assert await other.read(count=10, block_s=0.05) == []  # not idle long enough yet
    got: list[JobEvent] = []
    while not got:  # taken over once they have been idle for claim_idle_s
        assert time.monotonic() - started < 5, "pending events were never claimed"
        got = await _drain(other)
    assert got == sent


async def test_stream_is_trimmed(redis_ns: RedisNamespace) -> None:
    stream = redis_ns.prefix + "events"
    pub = RedisEventPublisher(redis_ns.client, stream, maxlen=100)
    for event in _events(1000):
        pub.publish(event)
    assert redis_ns.client.xlen(stream) < 300


async def test_in_memory_events_wake_a_waiting_reader() -> None:
    events = InMemoryEvents()
    sent = _events(3)

    def worker() -> None:
        time.sleep(0.05)
        for event in sent:
            events.publish(event)

    thread = threading.Thread(target=worker)
    started = time.monotonic()
    thread.start()
    got = []
    while len(got) < 3:
        batch = await events.read(block_s=5)
        got.extend(batch)
    thread.join()
    assert time.monotonic() - started < 2
    assert [d.event for d in got] == sent
    assert len(events.pending) == 3
    await events.ack([d.entry_id for d in got])
    assert events.pending == {}
    assert await events.read(block_s=0.01) == []


def test_preview_throttle_lets_one_update_a_second_through() -> None:
    now = [100.0]
    throttle = PreviewThrottle(1.0, clock=lambda: now[0])
    passed = []
    for _ in range(30):  # 30 steps at 10 steps/s
        passed.append(throttle.ready())
        now[0] += 0.1
    assert passed.count(True) == 3
    assert passed[0] is True
