from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services.custom_ids import MAX_CUSTOM_ID, Action, ButtonId, decode
from bot.services.errors import StaleButton

TILE = {Action.UPSCALE, Action.VARY, Action.DESCRIBE}


@given(st.uuids(), st.sampled_from(list(Action)), st.integers(1, 4))
def test_every_button_round_trips_within_discords_limit(job, action, n):
    button = ButtonId(action, job, n if action in TILE else 0)
    encoded = button.encode()
    assert len(encoded) <= MAX_CUSTOM_ID
    assert decode(encoded) == button


@pytest.mark.parametrize(
    "custom_id",
    [
        "",
        "nk:u:123:1",
        "nk:u:" + "g" * 32 + ":1",  # not hex
        "nk:u:" + "a" * 32 + ":0",  # upscale without a tile
        "nk:v:" + "a" * 32 + ":5",  # no tile 5
        "nk:r:" + "a" * 32 + ":2",  # reroll takes no tile
        "nk:zz:" + "a" * 32 + ":0",  # unknown action
        "nk:u:" + "a" * 32 + ":1:extra",
        "xx:u:" + "a" * 32 + ":1",
        "NK:U:" + "A" * 32 + ":1",
    ],
)
def test_anything_else_is_a_stale_button_not_a_crash(custom_id):
    with pytest.raises(StaleButton):
        decode(custom_id)


def test_constructing_an_invalid_button_is_a_bug():
    with pytest.raises(ValueError):
        ButtonId(Action.UPSCALE, uuid.uuid4(), 0)
