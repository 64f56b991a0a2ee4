"""Signed region editor links: what the bot signs the web app accepts, and nothing else."""

from __future__ import annotations

import base64
import uuid

import pytest

from pipeline.editor_links import EXPIRED, INVALID, EditorLink, LinkError, sign, verify

SECRET = b"k" * 32
LINK = EditorLink(uuid.uuid4(), 1001, uuid.uuid4(), 1, expires_at=2_000_000_000)


def test_a_signed_link_verifies_to_the_same_member_job_and_image() -> None:
    assert verify(sign(LINK, SECRET), SECRET, now=LINK.expires_at - 1) == LINK


def test_a_link_expires() -> None:
    with pytest.raises(LinkError) as caught:
        verify(sign(LINK, SECRET), SECRET, now=LINK.expires_at)
    assert caught.value.message == EXPIRED


def _reforged(token: str, **change: object) -> str:
    """The token with one field of its payload changed, the old MAC kept."""
    payload, mac = token.split(".")
    fields = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().split(".")
    names = ["link", "user", "job", "index", "expires"]
    for name, value in change.items():
        fields[names.index(name)] = str(value)
    forged = base64.urlsafe_b64encode(".".join(fields).encode()).rstrip(b"=").decode()
    return f"{forged}.{mac}"


@pytest.mark.parametrize(
    "token",
    [
        _reforged(sign(LINK, SECRET), user=1002),  # another member's link
        _reforged(sign(LINK, SECRET), expires=2_100_000_000),  # made to live longer
        _reforged(sign(LINK, SECRET), job=uuid.uuid4().hex),
        sign(LINK, b"another secret of 32 characters!"),  # not signed by this Nanke
        sign(LINK, SECRET)[:-2],
        "",
        "no-dot",
        "." * 500,
        "Zm9v.YmFy",
    ],
)
def test_forged_or_mangled_tokens_are_refused(token: str) -> None:
    with pytest.raises(LinkError) as caught:
        verify(token, SECRET, now=LINK.expires_at - 1)
    assert caught.value.message == INVALID
