"""Button custom_ids: `nk:<action>:<job>:<n>`, where the job id is 32 hex digits.

The id carries everything a click needs, so buttons keep working after a restart without stored
view state. Every id is validated on the way in (a client can send any string)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from bot.services.errors import StaleButton

MAX_CUSTOM_ID = 100  # Discord's limit


class Action(StrEnum):
    UPSCALE = "u"  # U1–U4 on a grid
    VARY = "v"  # V1–V4 on a grid (subtle)
    REROLL = "r"  # 🔄
    CANCEL = "x"  # ❌ on a queued job
    VARY_SUBTLE = "vs"  # on an upscaled image
    VARY_STRONG = "vg"
    UPSCALE_SUBTLE = "us"
    UPSCALE_CREATIVE = "uc"
    UPSCALE_4X = "ux"  # the GAN upscaler (models.toml [upscaler])
    SHARE = "sh"  # ⭐ to the server's gallery
    CONFIRM = "ok"  # run a batch of more than 4 jobs; <job> is the pending request's id
    # The editing row on an upscaled image (docs/discord.md).
    ZOOM_2 = "zd"  # Zoom Out 2x
    ZOOM_15 = "zh"  # Zoom Out 1.5x
    ZOOM_CUSTOM = "zc"  # Custom Zoom: a modal (factor, prompt, --ar)
    PAN_LEFT = "pl"
    PAN_RIGHT = "pr"
    PAN_UP = "pu"
    PAN_DOWN = "pd"
    SQUARE = "sq"  # Make Square
    DRAW_REGION = "dr"  # Vary (Region) → a link to the web editor
    DESCRIBE = "d"  # /describe's suggestion n: run it as /imagine (a prefilled box first)
    EDIT = "ed"  # Edit…: a modal with the instruction (/edit on this image)
    TRAIN = "tr"  # ▶ Start training after /train's summary; <job> is the pending run's id


# Actions that address one tile of a grid (or one of /describe's four prompts) carry n in
# 1..4; the others carry 0.
_TILE_ACTIONS = {Action.UPSCALE, Action.VARY, Action.DESCRIBE}

PATTERN = r"nk:(?P<action>[a-z]{1,2}):(?P<job>[0-9a-f]{32}):(?P<n>[0-9])"
_RE = re.compile(PATTERN)
# The Vary (Region) menu under an upscaled image: the chosen preset arrives as its value.
REGION_PATTERN = r"nkr:(?P<job>[0-9a-f]{32})"


def region_menu_id(job_id: UUID) -> str:
    return f"nkr:{job_id.hex}"


@dataclass(frozen=True)
class ButtonId:
    action: Action
    job_id: UUID
    n: int = 0

    def __post_init__(self) -> None:
        if self.action in _TILE_ACTIONS:
            if not 1 <= self.n <= 4:
                raise ValueError(f"{self.action.name} needs a tile 1..4, got {self.n}")
        elif self.n != 0:
            raise ValueError(f"{self.action.name} takes no tile, got {self.n}")

    def encode(self) -> str:
        value = f"nk:{self.action.value}:{self.job_id.hex}:{self.n}"
        assert len(value) <= MAX_CUSTOM_ID
        return value


def decode(custom_id: str) -> ButtonId:
    """Parse a custom_id, or raise StaleButton for anything that is not one of ours."""
    match = _RE.fullmatch(custom_id)
    if match is None:
        raise StaleButton("That button is not one Nanke understands; run the command again.")
    try:
        action = Action(match["action"])
        return ButtonId(action, UUID(hex=match["job"]), int(match["n"]))
    except ValueError as exc:
        raise StaleButton(
            "That button is not one Nanke understands; run the command again."
        ) from exc
