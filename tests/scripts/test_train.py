"""scripts/train.py refuses settings and files it cannot use, with one line and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import load_script

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("option", [["--epochs", "0"], ["--val-fraction", "0"]])
def test_refuses_settings_that_cannot_train(tmp_path: Path, option: list[str], capsys) -> None:
    train = load_script("scripts/train.py")
    with pytest.raises(SystemExit) as stop:
        train.main(["--data", str(tmp_path / "t.h5"), "--run", str(tmp_path / "run"), *option])
    assert stop.value.code == 2 and option[0] in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_truncated_checkpoint_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    train = load_script("scripts/train.py")
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    code = train.main(["--data", str(tmp_path / "t.h5"), "--run", str(run), "--resume"])
    error = capsys.readouterr().err
    assert code == 2 and "checkpoint.pt" in error and "Traceback" not in error
