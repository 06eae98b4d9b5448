"""Secrets planted in every field of a corpus never reach any output of a full distill run."""

from __future__ import annotations

from collections import Counter

import polars as pl
import pytest

from tests.reliability.conftest import FIELDS, AdversarialRun
from tests.reliability.corpus import output_texts
from tests.test_redact import leaked

pytestmark = pytest.mark.ray


def test_seeded_corpus_covers_every_field_and_kind(adversarial_run: AdversarialRun) -> None:
    where = Counter(w for _, _, w in adversarial_run.secrets)
    assert set(FIELDS) <= set(where) and min(where[f] for f in FIELDS) >= 20
    assert len({kind for kind, _, _ in adversarial_run.secrets}) >= 20
    # The run really read them: trajectories redacted at ingest, the cut lines quarantined.
    manifest = pl.read_parquet(adversarial_run.out_dir / "run" / "manifest.parquet")
    assert manifest.height == adversarial_run.records
    assert manifest.filter(pl.col("status") == "quarantined").height == where["quarantined_line"]
    assert adversarial_run.summary.valid


def test_no_seeded_secret_in_any_output_file(adversarial_run: AdversarialRun) -> None:
    texts = output_texts(adversarial_run.out_dir)
    texts["<progress>"] = "\n".join(adversarial_run.progress)
    texts["<summary>"] = adversarial_run.summary.model_dump_json()
    names = set(texts)
    assert {"support-desk/SKILL.md", "run/trajectories.parquet", "run/quarantine.parquet", "run/lessons.parquet", "run/manifest.parquet"} <= names
    found = [(name, kind, where) for kind, secret, where in adversarial_run.secrets for name, text in texts.items() if leaked(secret, text)]
    assert found == [], f"{len(found)} leak(s), e.g. {found[:5]}"


def test_redaction_left_its_marks(adversarial_run: AdversarialRun) -> None:
    """The grep above is only meaningful if the secrets went through: their placeholders did."""
    texts = output_texts(adversarial_run.out_dir)
    trajectories = texts["run/trajectories.parquet"]
    assert trajectories.count("[REDACTED:") >= 150
    assert "[REDACTED:" in texts["run/quarantine.parquet"]
