"""What training costs and what a cancelled run gives back (docs/training.md, "Price")."""

from __future__ import annotations

import pytest

from db.cost import job_cost_milli, train_cost_milli, train_refund_milli
from db.loras import Usage, train_refusal
from db.settings import PlanSettings


@pytest.mark.parametrize(
    ("steps", "resolution", "milli"),
    [(800, 512, 14334), (60, 512, 2000), (1000, 1024, 67667), (1, 64, 1001)],
)
def test_training_price(steps: int, resolution: int, milli: int) -> None:
    assert train_cost_milli(steps, resolution) == milli


def test_a_training_run_costs_more_than_a_grid() -> None:
    assert train_cost_milli(800, 512) > 10 * job_cost_milli(512, 512, 30, 4)


def test_a_cancelled_run_refunds_the_unused_steps_and_the_samples() -> None:
    cost = train_cost_milli(800, 512)
    assert train_refund_milli(cost, 800, 0) == cost  # cancelled before the first step
    assert train_refund_milli(cost, 800, 200) == 11000  # 3/4 of 13.334 + the samples' 1
    assert train_refund_milli(cost, 800, 800) == 1000  # only the samples were not painted
    with pytest.raises(ValueError):
        train_refund_milli(cost, 800, 801)
    with pytest.raises(ValueError):
        train_cost_milli(0, 512)


def test_plans_may_forbid_training_and_cap_count_and_size() -> None:
    plan = PlanSettings(max_loras=2, max_lora_mb=10)
    assert train_refusal(plan, Usage(1, 1024)) is None
    assert "limit" in (train_refusal(plan, Usage(2, 1024)) or "")
    assert "10 MB" in (train_refusal(plan, Usage(1, 10 * 1024 * 1024)) or "")
    refused = train_refusal(PlanSettings(train=False), Usage(0, 0))
    assert refused == "your plan does not include training LoRAs"
