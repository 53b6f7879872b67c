"""scripts/train_eyes.py refuses missing runs and datasets with one line and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import load_script

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("mode", ["--evaluate-only", "--no-train"])
def test_a_missing_run_is_a_one_line_error(tmp_path: Path, mode: str, capsys) -> None:
    train_eyes = load_script("scripts/train_eyes.py")
    code = train_eyes.main(["--root", str(tmp_path), "--out", str(tmp_path / "run"), mode])
    error = capsys.readouterr().err
    assert code == 2 and "eyes.pt" in error and "Traceback" not in error
    assert not (tmp_path / "run").exists()


def test_a_missing_dataset_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    train_eyes = load_script("scripts/train_eyes.py")
    code = train_eyes.main(["--root", str(tmp_path / "none"), "--out", str(tmp_path / "run")])
    error = capsys.readouterr().err
    assert code == 2 and "none" in error and not (tmp_path / "run").exists()
