"""The errors a member or admin can meet. Each carries a message that says what to do next;
the one error handler (bot/exts/errors.py) shows it ephemerally, never a traceback."""

from __future__ import annotations


class NankeError(Exception):
    """Base of every user-facing error. `message` is shown to the member as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidPrompt(NankeError):
    def __init__(self, message: str, flag: str | None = None) -> None:
        super().__init__(message)
        self.flag = flag


class BannedWord(NankeError):
    def __init__(self, word: str) -> None:
        super().__init__(
            f"Your prompt contains “{word}”, which this server does not allow. "
            "Rephrase the prompt without it; nothing was charged."
        )
        self.word = word


class OutOfCredits(NankeError):
    pass


class OverCaps(NankeError):
    pass


class GuildNotAllowed(NankeError):
    pass


class MemberBanned(NankeError):
    pass


class NotYourJob(NankeError):
    pass


class NotAdmin(NankeError):
    pass


class JobNotFound(NankeError):
    pass


class CannotCancel(NankeError):
    pass


class StaleButton(NankeError):
    """A button whose custom_id is malformed, or a confirmation that expired."""


class GalleryError(NankeError):
    """The gallery cannot do what was asked (not set up, entry removed)."""


class CannotPostHere(NankeError):
    """The bot lacks a permission it needs to post results in this channel."""
