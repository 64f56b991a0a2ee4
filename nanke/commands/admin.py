"""`nanke admin …`: operator tools for quotas, plans and servers' web galleries."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from nanke.settings import Settings

T = TypeVar("T")
_MENTION = re.compile(r"<@!?(\d+)>|(\d+)")
# Discord ids are 64-bit; the ledger stores milli-credits in BIGINT: keep grants far below it.
_MAX_USER_ID = 2**63 - 1
MAX_GRANT_CREDITS = 10**9


class DiscordUser(click.ParamType):
    """A Discord user id, or a mention as copied from Discord (<@123…>)."""

    name = "USER"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        match = _MENTION.fullmatch(str(value).strip())
        if match is None:
            self.fail(f"{value!r} is not a Discord user id (enable Developer Mode, Copy User ID)")
        user = int(match.group(1) or match.group(2))
        if user > _MAX_USER_ID:
            self.fail(f"{value!r} is too large for a Discord user id")
        return user


@click.group(help="Operator tools: quotas, plans, and whether a server's web gallery is public.")
def command() -> None:
    pass


@command.group(help="Show or grant credits.")
def quota() -> None:
    pass


@command.group(help="Change a user's plan.")
def plan() -> None:
    pass


@quota.command("show", help="Show USER's plan, credits left this period and active jobs.")
@click.argument("user", type=DiscordUser())
def quota_show(user: int) -> None:
    async def show(session: AsyncSession, settings: Settings, now: datetime) -> str:
        from sqlalchemy import func, select

        from db import members
        from db import quota as quotas
        from db.cost import format_credits
        from db.models import Job, JobState

        name, limits = members.plan_of(
            await members.get_user(session, user), settings.plans, settings.default_plan
        )
        balance = await quotas.balance(session, user, limits, now)
        counts = dict(
            (
                await session.execute(
                    select(Job.state, func.count())
                    .where(Job.user_id == user, Job.state.in_(["queued", "running"]))
                    .group_by(Job.state)
                )
            ).all()
        )
        return (
            f"user {user} · plan {name} · period {balance.period_key} · "
            f"{format_credits(balance.balance_milli)} of "
            f"{format_credits(balance.allowance_milli)} credits left · "
            f"running {counts.get(JobState.RUNNING.value, 0)}/{limits.max_running}, "
            f"queued {counts.get(JobState.QUEUED.value, 0)}/{limits.max_queued}"
        )

    click.echo(_run(show))


@quota.command(
    "grant", help="Add CREDITS (e.g. 10 or 2.5) to USER's current period; `-- -5` takes 5 away."
)
@click.argument("user", type=DiscordUser())
@click.argument("credits")
@click.option("--note", default=None, help="Why, kept in the ledger.")
def quota_grant(user: int, credits: str, note: str | None) -> None:
    from db.cost import credits_to_milli

    try:
        amount = credits_to_milli(credits)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="CREDITS") from None
    if abs(amount) > MAX_GRANT_CREDITS * 1000:
        raise click.BadParameter(
            f"grant at most {MAX_GRANT_CREDITS:,} credits at a time", param_hint="CREDITS"
        )

    async def grant(session: AsyncSession, settings: Settings, now: datetime) -> str:
        from db import members
        from db import quota as quotas
        from db.cost import format_credits

        await members.ensure_user(session, user, settings.default_plan, now)
        _, limits = members.plan_of(
            await members.get_user(session, user), settings.plans, settings.default_plan
        )
        try:
            balance = await quotas.grant(session, user, limits, amount, now, note)
        except quotas.QuotaError as exc:
            raise click.ClickException(str(exc)) from None
        return (
            f"granted {format_credits(amount)} credits to {user}: "
            f"{format_credits(balance.balance_milli)} left in {balance.period_key}"
        )

    click.echo(_run(grant))


@plan.command("set", help="Put USER on PLAN (one of the configured plans) from now on.")
@click.argument("user", type=DiscordUser())
@click.argument("plan_name", metavar="PLAN")
def plan_set(user: int, plan_name: str) -> None:
    async def set_plan(session: AsyncSession, settings: Settings, now: datetime) -> str:
        from db import members
        from db.cost import format_credits

        try:
            balance = await members.set_plan(
                session, user, plan_name, settings.plans, settings.default_plan, now
            )
        except members.UnknownPlanError as exc:
            raise click.BadParameter(str(exc), param_hint="PLAN") from None
        return (
            f"user {user} is on plan {plan_name}: "
            f"{format_credits(balance.balance_milli)} of "
            f"{format_credits(balance.allowance_milli)} credits left in {balance.period_key}"
        )

    click.echo(_run(set_plan))


@command.command(
    "gallery",
    help="Make GUILD_ID's web gallery public (shown by `nanke web`) or private (the default: "
    "a server's gallery is off until its admins turn it on; in Discord: /admin gallery).",
)
@click.argument("visibility", type=click.Choice(["public", "private"]))
@click.argument("guild_id", metavar="GUILD_ID", type=click.IntRange(1, _MAX_USER_ID))
def gallery(visibility: str, guild_id: int) -> None:
    async def set_visibility(session: AsyncSession, settings: Settings, now: datetime) -> str:
        from db import guilds

        del settings
        saved = await guilds.update_settings(
            session, guild_id, {"gallery_public": visibility == "public"}, now
        )
        state = "public" if saved.gallery_public else "private"
        return f"server {guild_id}'s web gallery is {state}"

    click.echo(_run(set_visibility))


def _run(action: Callable[[AsyncSession, Settings, datetime], Awaitable[T]]) -> T:
    """Run `action` in one committed transaction against the configured database."""
    from nanke.commands._database import database_errors
    from nanke.database import open_engine
    from nanke.settings import load_settings

    settings = load_settings()

    async def run() -> T:
        from db.sessions import session_factory

        async with open_engine(settings) as engine, session_factory(engine).begin() as session:
            return await action(session, settings, datetime.now(UTC))

    with database_errors(settings):
        return asyncio.run(run())
