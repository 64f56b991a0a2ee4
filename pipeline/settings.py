"""The job pipeline's settings types: timings, events and image storage.

`nanke.settings.Settings` composes them (env: NANKE_PIPELINE__…, NANKE_STORAGE__…); nothing here
reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


class PipelineSettings(BaseModel):
    """Job pipeline timings (docs/pipeline.md). Env: NANKE_PIPELINE__LEASE_S=…"""

    # A job that runs longer is aborted by its worker; the broker's visibility timeout must
    # exceed it, or Redis hands a still-running job to a second worker.
    job_timeout_s: float = Field(default=900.0, gt=0)
    visibility_timeout_s: float = Field(default=3600.0, gt=0)
    # A claim lasts lease_s unless its worker heartbeats (every heartbeat_s) to extend it.
    lease_s: float = Field(default=60.0, gt=0)
    heartbeat_s: float = Field(default=15.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=20)
    reconcile_interval_s: float = Field(default=15.0, gt=0)
    # A queued job missing from the broker for this long is published again.
    republish_after_s: float = Field(default=30.0, ge=0)
    # The scheduler prefers jobs for models a worker has loaded, but never for longer than
    # this: a job that waited this long competes as if its model were loaded.
    affinity_wait_s: float = Field(default=60.0, ge=0)
    # A worker whose heartbeat row is older than this is gone; a queued job whose model no
    # live worker serves fails (refunded) once it waited `republish_after_s`.
    worker_live_s: float = Field(default=60.0, gt=0)
    events_stream: str = "nanke:events"
    events_maxlen: int = Field(default=10_000, ge=100)
    preview_interval_s: float = Field(default=1.0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> PipelineSettings:
        if self.visibility_timeout_s <= self.job_timeout_s:
            raise ValueError(
                "pipeline.visibility_timeout_s must exceed pipeline.job_timeout_s, or a long "
                "job is delivered to a second worker while the first still runs"
            )
        if self.heartbeat_s * 2 > self.lease_s:
            raise ValueError("pipeline.heartbeat_s must be at most half of pipeline.lease_s")
        return self


class StorageSettings(BaseModel):
    """Where images live. Env: NANKE_STORAGE__BACKEND=s3, NANKE_STORAGE__S3_BUCKET=…"""

    backend: Literal["local", "s3"] = "local"
    # None → <data_dir>/images
    local_dir: Path | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None  # MinIO: http://minio:9000
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None
    s3_prefix: str = ""
