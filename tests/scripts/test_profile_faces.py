"""scripts/profile_faces.py: chooses faces, writes views alone or with their faces, and says
so in one line when nothing is chosen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from morph3d.training.targets import read_targets, write_targets

from ..conftest import load_script, make_tiny_model, make_tiny_targets

pytestmark = pytest.mark.unit


def _inputs(folder: Path) -> tuple[Path, Path, int]:
    """A targets file of 6 random faces of a tiny model (the first 3 fitted badly) and the
    model's file."""
    model = make_tiny_model()
    targets = make_tiny_targets(model, count=6)
    targets.fit_nme[:3] = 9.0
    data = write_targets(folder / "tiny.h5", targets)
    return data, model.save(folder / "tiny_model.npz"), len(targets)


def _profile(data: Path, out: Path, model: Path, *options: str) -> int:
    """scripts/profile_faces.py's exit status on these files with extra options."""
    profile = load_script("scripts/profile_faces.py")
    return profile.main(
        ["--targets", str(data), "--out", str(out), "--model", str(model), *options]
    )


def test_views_alone_of_the_chosen_faces(tmp_path: Path) -> None:
    data, model, _ = _inputs(tmp_path)
    out = tmp_path / "views.h5"
    options = ["--device", "numpy", "--max-fit-nme", "5", "--max-views", "2", "--views-only"]
    code = _profile(data, out, model, *options)
    assert code == 0
    views = read_targets(out)
    assert len(views) == 3 * 2 and views.synthetic.all() and not views.sparse.any()
    assert sorted(set(views.view_of)) == [3, 4, 5]  # the well-fitted faces of the input
    assert (tmp_path / "views.png").is_file() and (tmp_path / "views.json").is_file()


def test_with_originals_every_face_is_kept(tmp_path: Path) -> None:
    data, model, count = _inputs(tmp_path)
    out = tmp_path / "lp.h5"
    code = _profile(data, out, model, "--device", "numpy", "--max-fit-nme", "5", "--max-views", "2")
    assert code == 0
    both = read_targets(out)
    np.testing.assert_array_equal(both.synthetic, [False] * count + [True] * 6)
    np.testing.assert_array_equal(both.image[:count], read_targets(data).image)


def test_nothing_chosen_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    data, model, _ = _inputs(tmp_path)
    out = tmp_path / "none.h5"
    code = _profile(data, out, model, "--max-fit-nme", "0")
    error = capsys.readouterr().err
    assert code == 1 and "no face" in error and "Traceback" not in error
    assert not out.exists()


def test_the_input_is_never_overwritten(tmp_path: Path, capsys) -> None:
    data, model, _ = _inputs(tmp_path)
    before = data.read_bytes()
    code = _profile(data, data, model)
    assert code == 1 and "--out" in capsys.readouterr().err
    assert data.read_bytes() == before
