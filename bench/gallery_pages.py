"""Web gallery page render time with 10,000 shared entries in Postgres.

    PYTHONPATH=. .venv/bin/python bench/gallery_pages.py [--entries 10000] [--requests 200]

Creates a throwaway database on 127.0.0.1 (dropped at the end), bulk-loads one public guild
with N entries (random likes, times over 90 days, prompts from a small vocabulary), then times
full requests through the ASGI app in-process (routing, queries, template rendering; no
network): each listing's first page, a deep keyset page, search, a member page, an image page
and the JSON API. Prints a Markdown table of p50/p95/max in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy import insert

from db.migrate import upgrade
from db.models import GalleryEntry, Guild, Image, Job, User
from db.sessions import create_engine, session_factory
from gallery.app import create_app
from gallery.sql_reader import reader_factory

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
GUILD = 930_000_000_000_001
WORDS = [
    "lighthouse",
    "dusk",
    "fox",
    "snow",
    "castle",
    "hill",
    "cyberpunk",
    "market",
    "night",
    "watercolor",
    "portrait",
    "forest",
    "river",
    "mountain",
    "dragon",
    "city",
    "rain",
    "neon",
    "garden",
    "cat",
    "robot",
    "ship",
    "ocean",
    "storm",
    "desert",
    "temple",
    "oil",
    "painting",
    "sketch",
    "cinematic",
    "golden",
    "hour",
    "misty",
    "ancient",
    "futuristic",
    "cozy",
]


class NullStore:
    async def get(self, key: str) -> bytes | None:
        return None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        return None


def _spec(job_id: uuid.UUID, prompt: str, seed: int) -> dict[str, Any]:
    parts = [{"text": prompt, "weight": 1.0}]
    return {
        "job_id": str(job_id),
        "kind": "imagine",
        "params": {"prompt": prompt, "parts": parts},
        "generation": {
            "model": "sd15",
            "prompt": prompt,
            "parts": parts,
            "negative_prompt": "blurry",
            "width": 512,
            "height": 512,
            "steps": 30,
            "cfg": 7.0,
            "sampler": "euler_a",
            "seed": seed,
            "batch": 4,
        },
    }


async def load(url: str, entries: int, rng: random.Random) -> list[uuid.UUID]:
    engine = create_engine(url)
    now = datetime.now(UTC)
    users = [940_000_000_000_000 + i for i in range(200)]
    jobs, images, shares = [], [], []
    for _ in range(entries):
        job_id, image_id = uuid.uuid4(), uuid.uuid4()
        prompt = " ".join(rng.sample(WORDS, rng.randint(4, 10)))
        when = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
        user, seed = rng.choice(users), rng.randrange(2**32)
        jobs.append(
            dict(
                id=job_id,
                user_id=user,
                kind="imagine",
                request=_spec(job_id, prompt, seed),
                state="posted",
                created_at=when,
                guild_id=GUILD,
            )
        )
        images.append(
            dict(
                id=image_id,
                job_id=job_id,
                index=1,
                key=f"jobs/{job_id}/1.png",
                width=512,
                height=512,
                seed=seed,
                created_at=when,
            )
        )
        shares.append(
            dict(
                id=uuid.uuid4(),
                image_id=image_id,
                user_id=user,
                guild_id=GUILD,
                prompt=prompt,
                like_count=int(rng.paretovariate(1.2)) - 1,
                created_at=when,
            )
        )
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(insert(Guild), [dict(id=GUILD, gallery_public=True, allowed=True)])
            await conn.execute(insert(User), [dict(id=u, plan="free") for u in users])
            for table, rows in ((Job, jobs), (Image, images), (GalleryEntry, shares)):
                for start in range(0, len(rows), 2000):
                    await conn.execute(insert(table), rows[start : start + 2000])
            await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    return [row["image_id"] for row in shares]


async def measure(
    url: str, image_ids: list[uuid.UUID], requests: int, rng: random.Random
) -> list[tuple[str, list[float]]]:
    engine = create_engine(url)
    app = create_app(reader_factory(session_factory(engine)), NullStore())
    transport = httpx.ASGITransport(app=app)
    results: list[tuple[str, list[float]]] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def deep_cursor(sort: str, pages: int) -> str:
            cursor = None
            for _ in range(pages):
                params = {"sort": sort, "limit": 48, **({"cursor": cursor} if cursor else {})}
                cursor = (await client.get(f"/api/g/{GUILD}", params=params)).json()["next_cursor"]
            assert cursor
            return cursor

        member = (await client.get(f"/api/g/{GUILD}?limit=1")).json()["items"][0]["author"]["id"]
        cases: list[tuple[str, Any]] = [
            ("grid, new, first page", lambda: f"/g/{GUILD}?sort=new"),
            ("grid, top, first page", lambda: f"/g/{GUILD}?sort=top"),
            ("grid, trending, first page", lambda: f"/g/{GUILD}?sort=trending"),
        ]
        for sort in ("new", "top", "trending"):
            cursor = await deep_cursor(sort, 100)
            cases.append(
                (
                    f"grid, {sort}, page 101 (keyset)",
                    lambda s=sort, c=cursor: f"/g/{GUILD}?sort={s}&cursor={c}",
                )
            )
        cases += [
            ("grid, search (1 word)", lambda: f"/g/{GUILD}?q={rng.choice(WORDS)}"),
            (
                "grid, search (2 words), top",
                lambda: f"/g/{GUILD}?sort=top&q={rng.choice(WORDS)}+{rng.choice(WORDS)}",
            ),
            ("member page", lambda: f"/g/{GUILD}/u/{member}"),
            ("image page", lambda: f"/i/{rng.choice(image_ids)}"),
            ("API, new, first page", lambda: f"/api/g/{GUILD}?sort=new"),
            ("index (public servers)", lambda: "/"),
            ("/healthz (no database: the framework's floor)", lambda: "/healthz"),
        ]
        for name, path in cases:
            for _ in range(10):  # warm-up: connection pool, template compilation, plan cache
                assert (await client.get(path())).status_code == 200
            times = []
            for _ in range(requests):
                target = path()
                t0 = time.perf_counter()
                r = await client.get(target)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, (target, r.status_code)
            results.append((name, times))
    await engine.dispose()
    return results


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    name = f"nanke_bench_gallery_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        t0 = time.perf_counter()
        image_ids = await load(url, args.entries, rng)
        print(f"loaded {args.entries} entries in {time.perf_counter() - t0:.1f} s")
        results = await measure(url, image_ids, args.requests, rng)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    print(f"\n{args.entries} entries, {args.requests} requests per row, ms per request\n")
    print("| request | p50 | p95 | max |\n|---|---:|---:|---:|")
    for label, times in results:
        print(f"| {label} | {_p(times, 50):.1f} | {_p(times, 95):.1f} | {max(times):.1f} |")


if __name__ == "__main__":
    asyncio.run(main())
