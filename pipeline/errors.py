"""The job pipeline's failure contract (torch-free).

A `JobError` fails its job at once, without a retry, and its `message` is safe to show to the
member who asked (the engine's own errors, `inference.errors.EngineError`, are JobErrors). Any
other exception is a fault: the job is retried up to its attempt cap and the member sees a
generic message while operators get the detail in the log and the job row.
"""

from __future__ import annotations


class JobError(Exception):
    """Base class: `message` is safe to show to the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SourceMissingError(JobError):
    """The image a follow-up job starts from is no longer in storage."""


class StoreUnavailable(RuntimeError):
    """The job store (the database) could not be reached: nothing is known to have changed.

    Not a fault of the job: a claim that fails this way leaves the delivery unacknowledged."""


class CompletionUnknown(StoreUnavailable):
    """`complete` was sent but never confirmed, even after retries: the job may have succeeded.

    The attempt keeps its files (they may be the result); if the commit did not happen, the
    lease runs out and the reconciler gives the job another attempt."""
