from __future__ import annotations

from pathlib import Path

import pytest

from morph3d.errors import ModelNotFoundError
from morph3d.paths import DEFAULT_MODEL_FILENAME, home_dir, model_path, require_file


def test_precedence(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MORPH3D_HOME", raising=False)
    assert home_dir() == Path.home() / ".cache" / "morph3d"
    monkeypatch.setenv("MORPH3D_HOME", str(tmp_path / "env"))
    assert model_path() == tmp_path / "env" / DEFAULT_MODEL_FILENAME
    assert model_path(tmp_path / "explicit.npz") == tmp_path / "explicit.npz"
    assert home_dir(tmp_path / "arg") == tmp_path / "arg"


def test_require_file(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="run me") as raised:
        require_file(tmp_path / "x.npz", "run me")
    assert raised.value.path == tmp_path / "x.npz"
    (tmp_path / "x.npz").write_bytes(b"")
    assert require_file(tmp_path / "x.npz", "run me") == tmp_path / "x.npz"
