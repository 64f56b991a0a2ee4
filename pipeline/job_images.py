"""A job's image inputs made ready on the worker side: URLs fetched, checked and stored.

`fetch_references(spec, storage, policy) -> JobSpec`: every `Reference` whose image is a URL
is fetched (`pipeline.image_intake.store_url`: https only by default, pinned DNS, refused
private addresses, ≤ 3 redirects, 10 s, 20 MiB, Pillow limits), stored under its content
address and replaced by its sha256; the returned spec is what the engine runs (its PNG
parameters then name each image by hash). A failure is an `ImageInputError`, a `JobError`:
the job fails at once with a member-safe message and is refunded. The runner calls it before
the engine (never the bot, whose event loop must not wait on a stranger's server); the CLI
calls it too.
"""

from __future__ import annotations

from pipeline.contracts import JobSpec
from pipeline.errors import JobError
from pipeline.image_intake import FetchPolicy, ImageRefused, UrlRefused, store_url
from pipeline.storage import Storage
from prompt.request import ImageRef


class ImageInputError(JobError):
    """An image URL of the job could not be used; `message` says which and why."""


def fetch_references(spec: JobSpec, storage: Storage, policy: FetchPolicy) -> JobSpec:
    gen = spec.generation
    control = gen.control
    control_url = control.image.url if control is not None and control.image else None
    if control_url is None and not any(ref.image.url is not None for ref in gen.references):
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

    refs = tuple(ref.model_copy(update={"image": stored(ref.image)}) for ref in gen.references)
    update: dict[str, object] = {"references": refs}
    if control is not None and control.image is not None:  # --cn's image (ControlNet)
        update["control"] = control.model_copy(update={"image": stored(control.image)})
    return spec.model_copy(update={"generation": gen.model_copy(update=update)})
