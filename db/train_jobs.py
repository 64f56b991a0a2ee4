"""❌ on a running `train` job: cancelled with the unused part refunded (docs/training.md).

Only a training run may be cancelled once started (a painting job is over in seconds). The
cancel is one conditional UPDATE running → cancelled: the worker's next heartbeat finds the
job gone and stops the run at its following step (pipeline/runner.py `LeaseLost`), writing nothing.
The refund is a partial REFUND ledger row (db.cost.train_refund_milli of the steps done); the
hold ends exactly once, as for any job, so a second ❌ or the reconciler refunds nothing more.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Job, JobKind, JobState, LedgerKind, QuotaBalance, QuotaLedger


async def cancel_running(
    session: AsyncSession, job_id: uuid.UUID, user_id: int, refund_milli: int, now: datetime
) -> int | None:
    """running → cancelled for the member's own `train` job; the milli-credits refunded (at most
    the hold), or None when the job was not a running training run of theirs."""
    row = await session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.user_id == user_id,
            Job.kind == JobKind.TRAIN.value,
            Job.state == JobState.RUNNING.value,
        )
        .values(state=JobState.CANCELLED.value, finished_at=now, lease_owner=None)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    if row.first() is None:
        return None
    hold = (
        await session.execute(
            select(QuotaLedger.amount_milli, QuotaLedger.period_key).where(
                QuotaLedger.job_id == job_id, QuotaLedger.kind == LedgerKind.HOLD.value
            )
        )
    ).first()
    if hold is None:  # admitted in relax mode: nothing was held
        return 0
    amount = max(0, min(refund_milli, -hold[0]))
    await session.execute(
        insert(QuotaLedger).values(
            user_id=user_id,
            job_id=job_id,
            kind=LedgerKind.REFUND.value,
            amount_milli=amount,
            period_key=hold[1],
            note="training cancelled",
            created_at=now,
        )
    )
    await session.execute(
        update(QuotaBalance)
        .where(QuotaBalance.user_id == user_id, QuotaBalance.period_key == hold[1])
        .values(balance_milli=QuotaBalance.balance_milli + amount)
        .execution_options(synchronize_session=False)
    )
    return amount
