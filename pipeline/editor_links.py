"""Signed links to the region editor (the web app's "Draw the region…" page), torch-free.

The bot signs a link when a member presses Draw the region…; the web app checks it. A token is
`<payload>.<mac>`, both base64url: the payload names the link (its row in `region_links`, which
makes it usable once), the member, the job, the image and the expiry; the MAC is HMAC-SHA256
with the operator's secret (`NANKE_EDITOR_SECRET`), so no field can be changed or made up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID

LINK_TTL_S = 15 * 60  # a link lives 15 minutes, like a Discord interaction token
MIN_SECRET_LEN = 16
_MAX_TOKEN = 400

INVALID = "This link is not valid. Press Draw the region… under the image in Discord for a new one."
EXPIRED = (
    "This link has expired (links last 15 minutes). Press Draw the region… under the image in "
    "Discord for a new one."
)


class LinkError(ValueError):
    """A token that is forged, mangled or expired; the message is fit for the member."""

    @property
    def message(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class EditorLink:
    link_id: UUID
    user_id: int
    job_id: UUID
    index: int
    expires_at: int  # Unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def sign(link: EditorLink, secret: bytes) -> str:
    fields = f"{link.link_id.hex}.{link.user_id}.{link.job_id.hex}.{link.index}.{link.expires_at}"
    payload = _b64(fields.encode())
    return f"{payload}.{_mac(payload, secret)}"


def verify(token: str, secret: bytes, now: float) -> EditorLink:
    """The link a token names, if its MAC is ours and it has not expired (else LinkError)."""
    payload, dot, mac = token.partition(".")
    if not dot or len(token) > _MAX_TOKEN or not hmac.compare_digest(_mac(payload, secret), mac):
        raise LinkError(INVALID)
    try:
        link_hex, user, job_hex, index, expires = _unb64(payload).decode().split(".")
        link = EditorLink(
            UUID(hex=link_hex), int(user), UUID(hex=job_hex), int(index), int(expires)
        )
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise LinkError(INVALID) from None  # signed by us but unreadable: never in practice
    if now >= link.expires_at:
        raise LinkError(EXPIRED)
    return link
