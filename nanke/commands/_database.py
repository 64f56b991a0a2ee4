"""What the database commands share: turning database failures into one actionable line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from nanke.settings import Settings


@contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

    from nanke.database import safe_url

    where = safe_url(settings.effective_database_url)
    try:
        yield
    except (ProgrammingError, OperationalError) as exc:
        text = str(exc.orig).lower()
        if "does not exist" in text or "no such table" in text:
            raise click.ClickException(
                f"the database at {where} has no Nanke tables yet: run `nanke migrate` first"
            ) from None
        raise click.ClickException(f"database error at {where}: {exc.orig}") from None
    except (OSError, DBAPIError) as exc:
        raise click.ClickException(
            f"cannot use the database at {where} ({exc}): is it running, and is "
            "NANKE_DATABASE_URL right?"
        ) from None
