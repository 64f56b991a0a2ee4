"""The table of every NANKE_ variable: generated from Settings, and docs/deploy.md holds exactly
what Settings produces (so a new or changed setting cannot leave the docs behind)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, Field

from nanke.cli import cli
from nanke.env_table import TableError, block_in, markdown, rows
from nanke.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "docs" / "deploy.md"


def test_docs_deploy_holds_the_table_settings_produce() -> None:
    documented = block_in(DEPLOY.read_text(encoding="utf-8"))
    assert documented is not None, "docs/deploy.md lost its env-table markers"
    assert documented == markdown(), (
        "docs/deploy.md's NANKE_ table differs from Settings: run "
        "`nanke config env-table --write docs/deploy.md`"
    )


def test_every_setting_is_a_row_with_its_default_and_meaning() -> None:
    table = {row.variable: row for row in rows()}
    assert table["NANKE_PIPELINE__LEASE_S"].default == "`60`"
    assert table["NANKE_DATA_DIR"].default == "`data`"
    assert table["NANKE_DATABASE_URL"].default == "unset"
    assert table["NANKE_WORKER__WARMUP"].default == "`true`"
    assert '"free"' in table["NANKE_PLANS"].default
    assert "Redis hands" in table["NANKE_PIPELINE__VISIBILITY_TIMEOUT_S"].meaning
    # Secrets never show a default.
    assert {v for v, row in table.items() if row.secret} == {
        "NANKE_DISCORD__TOKEN",
        "NANKE_STORAGE__S3_SECRET_KEY",
        "NANKE_METRICS_TOKEN",
        "NANKE_EDITOR_SECRET",
    }
    assert all(table[v].default == "— (secret)" for v in table if table[v].secret)
    # Every leaf field of Settings and its sections is there once.
    sections = [n for n, f in Settings.model_fields.items() if isinstance(f.default_factory, type)]
    leaves = len(Settings.model_fields) - len(sections)
    leaves += sum(len(Settings.model_fields[n].default_factory.model_fields) for n in sections)  # type: ignore[union-attr]
    assert len(table) == leaves


def test_the_variables_named_are_the_ones_settings_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {row.variable for row in rows()}
    for variable, value in [
        ("NANKE_PIPELINE__LEASE_S", "90"),
        ("NANKE_WORKER__DEVICE", "cpu"),
        ("NANKE_STORAGE__S3_PREFIX", "nanke/"),
        ("NANKE_BOT_NAME", "bot@a"),
    ]:
        assert variable in table
        monkeypatch.setenv(variable, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.pipeline.lease_s == 90 and settings.worker.device == "cpu"
    assert settings.storage.s3_prefix == "nanke/" and settings.bot_name == "bot@a"


def test_a_setting_without_a_meaning_is_refused() -> None:
    class Section(BaseModel):
        documented: int = Field(default=1, description="Has one.")
        forgotten: int = 2

    class Top(BaseModel):
        section: Section = Field(default_factory=Section)

    with pytest.raises(TableError, match=r"Section.forgotten \(NANKE_SECTION__FORGOTTEN\)"):
        rows(Top)


def test_the_command_prints_and_writes_the_table(tmp_path: Path) -> None:
    printed = CliRunner().invoke(cli, ["config", "env-table"])
    assert printed.exit_code == 0 and printed.output == markdown()
    page = tmp_path / "deploy.md"
    shutil.copy(DEPLOY, page)
    stale = page.read_text().replace("| `NANKE_PIPELINE__LEASE_S` |", "| `NANKE_OLD` |")
    page.write_text(stale)
    wrote = CliRunner().invoke(cli, ["config", "env-table", "--write", str(page)])
    assert wrote.exit_code == 0 and "table updated" in wrote.output
    assert page.read_text() == DEPLOY.read_text()
    again = CliRunner().invoke(cli, ["config", "env-table", "--write", str(page)])
    assert "already up to date" in again.output
    bare = tmp_path / "bare.md"
    bare.write_text("# no markers\n")
    refused = CliRunner().invoke(cli, ["config", "env-table", "--write", str(bare)])
    assert refused.exit_code == 1 and "no env-table markers" in refused.output


def test_every_variable_compose_reads_is_documented() -> None:
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose))
    assert {"POSTGRES_PASSWORD", "NANKE_MODELS_DIR", "FLOWER_BASIC_AUTH"} <= used
    page = DEPLOY.read_text(encoding="utf-8")
    assert sorted(v for v in used if f"`{v}`" not in page) == []
