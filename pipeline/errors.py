"""The job pipeline's failure contract (torch-free).

A `JobError` fails its job at once, without a retry, and its `message` is safe to show to the
member who asked (the engine's own errors, `inference.errors.EngineError`, are JobErrors). Any
other exception is a fault: the job is retried up to its attempt cap and the member sees a
generic message while operators get the detail in the log and the job row.
"""

from __future__ import annotations

# The job row's `error` holds what operators need; members see only `member_message` of it.
FAULT_PREFIX = "worker error: "
_DETAIL = "\n[operator detail] "
RETRY_MESSAGE = (
    "the job failed on every attempt because of an error on the GPU worker; "
    "your credits were refunded"
)


class JobError(Exception):
    """Base class: `message` is safe to show to the person who asked; `detail` (paths, the
    library's own words) is for operators only: logs, the job row, the CLI."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message if not detail else f"{message} ({detail})")
        self.message = message
        self.detail = detail


def row_error(message: str, detail: str | None = None) -> str:
    """What the job row stores: the member's message, then the operator's detail."""
    return message if not detail else f"{message}{_DETAIL}{detail}"


def member_message(error: str | None) -> str | None:
    """The part of a job row's `error` a member may see: a fault (a crash on the worker) is
    the generic retry message, a JobError its message without the operator detail."""
    if not error:
        return None
    if error.startswith(FAULT_PREFIX):
        return RETRY_MESSAGE
    return error.split(_DETAIL, 1)[0]


class SourceMissingError(JobError):
    """The image a follow-up job starts from is no longer in storage."""


class StoreUnavailable(RuntimeError):
    """The job store (the database) could not be reached: nothing is known to have changed.

    Not a fault of the job: a claim that fails this way leaves the delivery unacknowledged."""


class CompletionUnknown(StoreUnavailable):
    """`complete` was sent but never confirmed, even after retries: the job may have succeeded.

    The attempt keeps its files (they may be the result); if the commit did not happen, the
    lease runs out and the reconciler gives the job another attempt."""
