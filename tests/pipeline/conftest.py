"""Fixtures of the pipeline's real-process tests (tests/pipeline/failure_rig.py)."""

from tests.fixtures.pg_proxy import pg_proxy  # noqa: F401 (a fixture)
from tests.pipeline.failure_rig import (  # noqa: F401 (fixtures)
    broker,
    data_dir,
    models_file,
    rig,
    workers,
    zygote,
)
