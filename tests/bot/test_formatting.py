from __future__ import annotations

import uuid

from bot_fakes import tiny_resolver

from bot.services import formatting
from bot.services.ports import UserPrefs
from prompt import parse_prompt


def _spec(prompt: str = "a red fox"):
    return tiny_resolver().imagine(uuid.uuid4(), parse_prompt(prompt)[0], UserPrefs())


def test_waiting_line_shows_prompt_member_and_position():
    line = formatting.waiting(_spec(), "<@1>", 3)
    assert line == "**a red fox** — <@1> (Waiting to start · position 3)"


def test_waiting_line_says_about_how_long():
    line = formatting.waiting(_spec(), "<@1>", 3, 41.0)
    assert line.endswith("(Waiting to start · position 3 · about 40 s)")
    assert formatting.waiting(_spec(), "<@1>", 9, 200.0).endswith("· about 3 min)")


def test_progress_is_a_whole_percentage_within_bounds():
    assert formatting.running(_spec(), "<@1>", 42.4).endswith("(42%)")
    assert formatting.running(_spec(), "<@1>", 130).endswith("(100%)")


def test_markdown_in_a_prompt_cannot_break_the_message():
    line = formatting.waiting(_spec("**bold** " + "x" * 3000), "<@1>", None)
    assert "\\*\\*bold\\*\\*" in line
    assert len(line) < 2000


def test_previews_are_throttled_to_one_per_interval_per_job():
    now = [0.0]
    throttle = formatting.ProgressThrottle(2.0, clock=lambda: now[0])
    a, b = uuid.uuid4(), uuid.uuid4()
    assert throttle.allow(a)
    assert throttle.allow(b)  # jobs are paced independently
    now[0] = 1.9
    assert not throttle.allow(a)
    now[0] = 2.0
    assert throttle.allow(a)
