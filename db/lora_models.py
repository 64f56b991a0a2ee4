"""The `loras` table (0011): LoRAs members trained with /train or `nanke train`.

Private to the owner until a server admin publishes one, which needs the owner's consent
(a CHECK: a published row always has `consent`). Names are unique per owner, and among one
server's published LoRAs (a partial unique index).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Lora(Base):
    __tablename__ = "loras"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    guild_id: Mapped[int | None] = mapped_column(BigInteger)  # the server it was trained in
    name: Mapped[str] = mapped_column(String(32))
    base_model: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(200))
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    published: Mapped[bool] = mapped_column(default=False, server_default=false())
    consent: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        CheckConstraint("size_bytes >= 0", name="size"),
        CheckConstraint("NOT published OR consent", name="published_consent"),
        UniqueConstraint("owner_id", "name"),
        Index(
            "ix_loras_published_name",
            "guild_id",
            "name",
            unique=True,
            postgresql_where=text("published"),
            sqlite_where=text("published"),
        ),
    )
