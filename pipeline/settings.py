"""The job pipeline's settings types: timings, events and image storage.

`nanke.settings.Settings` composes them (env: NANKE_PIPELINE__…, NANKE_STORAGE__…); nothing here
reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, IPvAnyAddress, SecretStr, model_validator

from pipeline.image_urls import FetchPolicy


class PipelineSettings(BaseModel):
    """Job pipeline timings (docs/pipeline.md). Env: NANKE_PIPELINE__LEASE_S=…"""

    job_timeout_s: float = Field(
        default=900.0, gt=0, description="A job running longer is aborted by its worker."
    )
    visibility_timeout_s: float = Field(
        default=3600.0,
        gt=0,
        description="Redis hands an unacknowledged job to another worker after this; must "
        "exceed job_timeout_s.",
    )
    lease_s: float = Field(
        default=60.0,
        gt=0,
        description="A worker's claim on a job lasts this long unless its heartbeat extends "
        "it; then the job runs again.",
    )
    heartbeat_s: float = Field(
        default=15.0, gt=0, description="How often a worker extends its claim (≤ lease_s / 2)."
    )
    max_attempts: int = Field(
        default=3, ge=1, le=20, description="Tries per job before it fails and is refunded."
    )
    reconcile_interval_s: float = Field(
        default=15.0,
        gt=0,
        description="How often the bot requeues expired claims and delivers unposted results.",
    )
    republish_after_s: float = Field(
        default=30.0,
        ge=0,
        description="A queued job missing from the broker this long is published again.",
    )
    affinity_wait_s: float = Field(
        default=60.0,
        ge=0,
        description="The scheduler prefers jobs for models a worker has loaded for at most this "
        "long; a job that waited longer competes as if its model were loaded.",
    )
    worker_live_s: float = Field(
        default=60.0,
        gt=0,
        description="A worker whose heartbeat row is older is gone; a queued job whose model no "
        "live worker serves fails (refunded) once it waited republish_after_s.",
    )
    events_stream: str = Field(
        default="nanke:events", description="The Redis stream of job events (worker → bot)."
    )
    events_maxlen: int = Field(
        default=10_000, ge=100, description="Job events kept in that stream (approximate)."
    )
    preview_interval_s: float = Field(
        default=1.0, ge=0, description="At most one progress preview per job this often."
    )

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

    backend: Literal["local", "s3"] = Field(
        default="local", description="local (a folder every service sees) or s3."
    )
    local_dir: Path | None = Field(
        default=None, description="The local image folder; unset: <data_dir>/images."
    )
    s3_bucket: str | None = Field(default=None, description="The S3 bucket (backend s3).")
    s3_endpoint_url: str | None = Field(
        default=None, description="An S3-compatible endpoint, e.g. MinIO's http://minio:9000."
    )
    s3_region: str = Field(default="us-east-1", description="The S3 region.")
    s3_access_key: str | None = Field(default=None, description="The S3 access key id.")
    s3_secret_key: SecretStr | None = Field(default=None, description="The S3 secret key.")
    s3_prefix: str = Field(default="", description="A key prefix inside the bucket.")


class ImageFetchSettings(BaseModel):
    """How workers fetch image URLs members give (issue 15). Env: NANKE_IMAGES__HTTPS_ONLY=…"""

    https_only: bool = Field(
        default=True, description="Refuse image URLs that are not https:// (recommended)."
    )
    test_allow_addresses: list[IPvAnyAddress] = Field(
        default_factory=list,
        description="TESTS ONLY: exact addresses (e.g. 127.0.0.1) image URLs may reach although "
        "private. Never set it on a server: members could make workers fetch from your network.",
    )
    timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="The whole fetch of one image URL, redirects included.",
    )
    max_redirects: int = Field(
        default=3, ge=0, le=10, description="Redirects followed per image URL, each re-checked."
    )
    max_mib: int = Field(default=20, ge=1, le=100, description="Largest image URL body, in MiB.")

    def policy(self) -> FetchPolicy:
        return FetchPolicy(
            https_only=self.https_only,
            allowed_addresses=frozenset(self.test_allow_addresses),
            max_redirects=self.max_redirects,
            timeout_s=self.timeout_s,
            max_bytes=self.max_mib * 2**20,
        )
