"""Job events: workers publish, the bot reads (torch-free).

Production: one Redis stream (XADD with an approximate MAXLEN), read by the bot through a
consumer group. An event is acknowledged (XACK) only after the bot has handled it, so a bot
that dies in between gets it again: on start it first re-reads its own pending entries, and
it periodically takes over entries another consumer left pending too long (XAUTOCLAIM), so a
bot that comes back under a new name misses nothing either.

Embedded default: `InMemoryEvents`, the same publisher and reader interface in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from pipeline.contracts import JobEvent

log = logging.getLogger(__name__)

DEFAULT_GROUP = "bot"
_FIELD = "event"


@dataclass(frozen=True)
class DeliveredEvent:
    entry_id: str
    event: JobEvent


class EventPublisher(Protocol):
    def publish(self, event: JobEvent) -> None: ...


class PreviewThrottle:
    """Lets a progress update through at most once per `interval_s` (the first always)."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval_s
        self._clock = clock
        self._last: float | None = None

    def ready(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return False
        self._last = now
        return True


def _decode(entry_id: str, fields: dict[Any, Any] | None) -> JobEvent | None:
    if not fields:  # trimmed away by MAXLEN while pending
        return None
    raw = fields.get(_FIELD) or fields.get(_FIELD.encode())
    try:
        return JobEvent.model_validate_json(raw) if raw else None
    except ValidationError:
        log.warning("dropping malformed job event %s", entry_id)
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisEventPublisher:
    """XADD to the stream, trimming it to about `maxlen` entries (cheap `~` trimming)."""

    def __init__(self, redis: Any, stream: str, *, maxlen: int = 10_000) -> None:
        self._redis = redis  # a sync redis.Redis
        self._stream = stream
        self._maxlen = maxlen

    def publish(self, event: JobEvent) -> None:
        self._redis.xadd(
            self._stream,
            {_FIELD: event.model_dump_json()},
            maxlen=self._maxlen,
            approximate=True,
        )


class RedisEventReader:
    """A consumer in a consumer group. Give a bot process a stable `consumer` name so that
    after a restart it re-reads what it had not acknowledged."""

    def __init__(
        self,
        redis: Any,
        stream: str,
        *,
        group: str = DEFAULT_GROUP,
        consumer: str,
        claim_idle_s: float = 60.0,
    ) -> None:
        self._redis = redis  # a redis.asyncio.Redis
        self._stream = stream
        self._group = group
        self._consumer = consumer
        self._claim_idle_ms = int(claim_idle_s * 1000)
        self._group_ready = False
        self._pending_cursor: str | None = "0"  # None once own pending entries are re-read
        self._next_claim = 0.0

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            # From "0": a group created after events were published still gets them.
            await self._redis.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except Exception as exc:  # redis.ResponseError, but keep redis imports lazy-free
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def read(self, *, count: int = 100, block_s: float = 1.0) -> list[DeliveredEvent]:
        try:
            return await self._read(count, block_s)
        except Exception:
            # The connection dropped (or Redis restarted): on the next read, make sure the
            # group exists and re-read this consumer's pending entries first, as after a restart.
            self._group_ready = False
            self._pending_cursor = "0"
            raise

    async def _read(self, count: int, block_s: float) -> list[DeliveredEvent]:
        await self._ensure_group()
        entries: list[tuple[Any, Any]] = []
        if self._pending_cursor is not None:
            # What this consumer was handed before a restart and never acknowledged.
            entries = await self._xreadgroup(self._pending_cursor, count, None)
            self._pending_cursor = _text(entries[-1][0]) if entries else None
        if not entries and time.monotonic() >= self._next_claim:
            entries = await self._autoclaim(count)
        if not entries:
            entries = await self._xreadgroup(">", count, int(block_s * 1000) or None)
        out: list[DeliveredEvent] = []
        dead: list[str] = []
        for raw_id, fields in entries:
            entry_id = _text(raw_id)
            event = _decode(entry_id, _fields(fields))
            if event is None:
                dead.append(entry_id)
            else:
                out.append(DeliveredEvent(entry_id, event))
        if dead:  # nothing to hand over: acknowledge so they leave the pending list
            await self.ack(dead)
        return out

    async def _xreadgroup(self, start: str, count: int, block_ms: int | None) -> list[Any]:
        reply = await self._redis.xreadgroup(
            self._group, self._consumer, {self._stream: start}, count=count, block=block_ms
        )
        if not reply:
            return []
        # RESP2: [[stream, entries]]; RESP3: {stream: [entries]}
        if isinstance(reply, dict):
            return [e for batch in reply.values() for e in _flatten(batch)]
        return [e for _, batch in reply for e in batch]

    async def _autoclaim(self, count: int) -> list[Any]:
        reply = await self._redis.xautoclaim(
            self._stream,
            self._group,
            self._consumer,
            min_idle_time=self._claim_idle_ms,
            start_id="0-0",
            count=count,
        )
        entries = list(reply[1]) if reply else []
        if len(entries) < count:
            # Swept the whole pending list: look again only after another idle period.
            self._next_claim = time.monotonic() + self._claim_idle_ms / 1000
        return entries

    async def ack(self, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            await self._redis.xack(self._stream, self._group, *entry_ids)


def _flatten(batch: Any) -> list[Any]:
    return list(batch[0]) if batch and isinstance(batch[0], list) else list(batch)


def _fields(fields: Any) -> dict[Any, Any] | None:
    if fields is None or isinstance(fields, dict):
        return fields
    it = iter(fields)  # a flat [k, v, k, v] list
    return dict(zip(it, it, strict=False))


class InMemoryEvents:
    """Publisher and reader in one object for the embedded single-process mode.

    `publish` may be called from any thread (the embedded worker runs in one); `read` runs on
    the reader's event loop. Events are handed out once; unacknowledged ones are kept in
    `pending` only for inspection, as the process that would re-read them is this one.
    """

    def __init__(self, *, maxlen: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._queue: deque[DeliveredEvent] = deque(maxlen=maxlen)
        self._counter = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.pending: dict[str, JobEvent] = {}

    def publish(self, event: JobEvent) -> None:
        with self._lock:
            self._counter += 1
            self._queue.append(DeliveredEvent(f"{self._counter}-0", event))
            waiters, self._waiters = self._waiters, []
        for loop, ready in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(ready.set)

    async def read(self, *, count: int = 100, block_s: float = 1.0) -> list[DeliveredEvent]:
        batch = self._take(count)
        if not batch and block_s > 0:
            ready = asyncio.Event()
            with self._lock:
                if not self._queue:
                    self._waiters.append((asyncio.get_running_loop(), ready))
                else:
                    ready.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), timeout=block_s)
            batch = self._take(count)
        return batch

    def _take(self, count: int) -> list[DeliveredEvent]:
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(count, len(self._queue)))]
            for item in batch:
                self.pending[item.entry_id] = item.event
        return batch

    async def ack(self, entry_ids: Sequence[str]) -> None:
        with self._lock:
            for entry_id in entry_ids:
                self.pending.pop(entry_id, None)
