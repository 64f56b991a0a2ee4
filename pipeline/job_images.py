"""A job's image inputs made ready on the worker side: URLs fetched, checked and stored.

`fetch_references(spec, storage, policy) -> JobSpec`: every image URL of the job (image
prompts and references, the --cn control image, /describe's image) is fetched
(`pipeline.image_intake.store_url`: https only by default, pinned DNS, refused private
addresses, ≤ 3 redirects, 10 s, 20 MiB, Pillow limits), stored under its content address and
replaced by its sha256; the returned spec is what the engine runs (its PNG parameters then name
each image by hash). A failure is an `ImageInputError`, a `JobError`: the job fails at once
with a member-safe message and is refunded. The runner calls it before the engine (never the
bot, whose event loop must not wait on a stranger's server); the CLI calls it too.

`fetched_urls(asked, ran) -> {url: sha256}`: what the fetch stored, recorded in the job's
result (`JobResult.fetched`), and `with_stored(spec, fetched)`: a spec whose URLs are replaced
by those stored images, so a follow-up (🔄, V, U) reuses the pictures its parent ran with,
even once the URL is gone (a Discord attachment link expires within a day).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pipeline.contracts import JobSpec
from pipeline.errors import JobError
from pipeline.image_intake import FetchPolicy, ImageRefused, UrlRefused, store_url
from pipeline.storage import Storage
from prompt.request import ImageRef


class ImageInputError(JobError):
    """An image URL of the job could not be used; `message` says which and why."""


def image_refs(spec: JobSpec) -> list[ImageRef]:
    """Every image the job runs with, in a fixed order (references, control, describe)."""
    gen = spec.generation
    refs = [ref.image for ref in gen.references]
    if gen.control is not None and gen.control.image is not None:
        refs.append(gen.control.image)
    if spec.describe is not None:
        refs.append(spec.describe)
    return refs


def _mapped(spec: JobSpec, stored: Callable[[ImageRef], ImageRef]) -> JobSpec:
    """`spec` with every image of its generation (and /describe's) passed through `stored`."""
    gen = spec.generation
    refs = tuple(ref.model_copy(update={"image": stored(ref.image)}) for ref in gen.references)
    update: dict[str, object] = {"references": refs}
    if gen.control is not None and gen.control.image is not None:  # --cn's image
        update["control"] = gen.control.model_copy(update={"image": stored(gen.control.image)})
    spec_update: dict[str, object] = {"generation": gen.model_copy(update=update)}
    if spec.describe is not None:
        spec_update["describe"] = stored(spec.describe)
    return spec.model_copy(update=spec_update)


def fetch_references(spec: JobSpec, storage: Storage, policy: FetchPolicy) -> JobSpec:
    if not any(image.url is not None for image in image_refs(spec)):
        return spec
    fetched: dict[str, str] = {}

    def stored(image: ImageRef) -> ImageRef:
        url = image.url
        if url is None:
            return image
        if url not in fetched:
            try:
                fetched[url] = store_url(storage, url, policy).sha256
            except (UrlRefused, ImageRefused) as exc:
                shown = url if len(url) <= 80 else url[:79] + "…"
                raise ImageInputError(f"{shown}: {exc} Your credits were refunded.") from None
        return ImageRef(sha256=fetched[url])

    return _mapped(spec, stored)


def fetched_urls(asked: JobSpec, ran: JobSpec) -> dict[str, str]:
    """Each URL of `asked` → the sha256 `ran` (its `fetch_references`) replaced it with."""
    pairs = zip(image_refs(asked), image_refs(ran), strict=True)
    return {a.url: r.sha256 for a, r in pairs if a.url is not None and r.sha256 is not None}


def _swap(image: ImageRef, fetched: Mapping[str, str]) -> ImageRef:
    sha256 = fetched.get(image.url) if image.url is not None else None
    return ImageRef(sha256=sha256) if sha256 is not None else image


def with_stored(spec: JobSpec, fetched: Mapping[str, str]) -> JobSpec:
    """`spec`'s generation with the URLs its run fetched replaced by the stored images: what
    a follow-up of a finished job starts from. The member's request (`params`, what Remix
    shows) keeps the URLs they typed."""
    if not fetched:
        return spec
    return _mapped(spec, lambda image: _swap(image, fetched))
