from __future__ import annotations

import json
from pathlib import Path

import pytest

from morph3d.cli import main


def test_info_describes_a_model(tiny_model, tmp_path: Path, capsys) -> None:
    path = tiny_model.save(tmp_path / "tiny.npz")
    assert main(["info", "--model", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["vertices"] == tiny_model.n_vertices and summary["metadata"]["name"] == "tiny"


def test_missing_model_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["info", "--model", str(tmp_path / "none.npz")]) == 2
    error = capsys.readouterr().err
    assert "none.npz" in error and "setup.sh" in error


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--version"])
    assert raised.value.code == 0 and "morph3d" in capsys.readouterr().out
