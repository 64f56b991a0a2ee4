"""The one error type of the prompt language."""

from __future__ import annotations


class PromptError(Exception):
    """A prompt the parser rejects.

    `message` says what is wrong and how to fix it, in words a member can act on; `flag` is the
    flag it concerns ("--ar", "--lora", …) or None when it concerns the prompt text itself.
    """

    def __init__(self, message: str, flag: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.flag = flag

    def __repr__(self) -> str:
        return f"PromptError({self.message!r}, flag={self.flag!r})"
