"""scripts/fit_3dmm.py end to end on a handful of real faces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from morph3d.io.image import read_image
from morph3d.training.aflw21_targets import SPARSE_FIT
from morph3d.training.targets import read_targets

from ..conftest import load_script

fit_3dmm = load_script("scripts/fit_3dmm.py")


def _dataset(shared_data: Path, folder: Path) -> None:
    folder.mkdir()
    for pts in sorted((shared_data / "300w" / "helen_trainset").glob("*.pts"))[:4]:
        shutil.copy(pts, folder / pts.name)
        shutil.copy(pts.with_suffix(".jpg"), folder / pts.with_suffix(".jpg").name)
    (folder / "corrupt.pts").write_text((folder / pts.name).read_text())
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8garbage")
    (folder / "short.pts").write_text("1 2\n3 4\n")
    (folder / "short.jpg").write_bytes((folder / pts.with_suffix(".jpg").name).read_bytes())


def test_writes_targets_summary_and_sheet(shared_data: Path, tmp_path: Path) -> None:
    _dataset(shared_data, tmp_path / "data")
    out = tmp_path / "out" / "fits.h5"
    code = fit_3dmm.main(["--format", "300w", "--root", str(tmp_path / "data"), "--out", str(out)])
    assert code == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["count"] == 4 and len(summary["per_image"]) == 4
    reasons = {item["name"]: item["reason"] for item in summary["failed"]}
    assert set(reasons) == {"corrupt", "short"}
    assert "cannot decode" in reasons["corrupt"] and "68 points" in reasons["short"]
    assert summary["fit_nme_median"] < 3.0 and summary["within_3std"] == 1.0
    assert len(read_targets(out)) == 4
    assert read_image(out.with_suffix(".png")).shape[2] == 3
    assert sorted(p.name for p in out.parent.iterdir()) == ["fits.h5", "fits.json", "fits.png"]


def test_a_stronger_prior_pulls_the_coefficients_in(shared_data: Path, tmp_path: Path) -> None:
    import numpy as np

    from morph3d.core.model import load_model

    _dataset(shared_data, tmp_path / "data")
    layout = load_model().layout
    spread = {}
    for prior in ("0.1", "3"):
        out = tmp_path / prior / "fits.h5"
        options = ["--shape-prior", prior, "--expression-prior", prior]
        args = ["--format", "300w", "--root", str(tmp_path / "data"), "--out", str(out)]
        assert fit_3dmm.main([*args, *options]) == 0
        summary = json.loads(out.with_suffix(".json").read_text())
        assert summary["shape_prior"] == summary["expression_prior"] == float(prior)
        z = layout.normalize(read_targets(out).params)[:, layout.coefficients]
        spread[prior] = (float(np.abs(z).mean()), summary["fit_nme_median"])
    assert spread["3"][0] < 0.7 * spread["0.1"][0]  # closer to the mean face
    assert spread["3"][1] > spread["0.1"][1]  # at the price of a looser fit


def test_failed_run_keeps_earlier_output(tmp_path: Path, shared_data: Path) -> None:
    _dataset(shared_data, tmp_path / "data")
    out = tmp_path / "fits.h5"
    assert (
        fit_3dmm.main(["--format", "300w", "--root", str(tmp_path / "data"), "--out", str(out)])
        == 0
    )
    before = out.read_bytes()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert fit_3dmm.main(["--format", "300w", "--root", str(empty), "--out", str(out)]) == 1
    assert out.read_bytes() == before


def test_aflw21_format_writes_sparse_targets(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "aflw21.h5"
    root = str(shared_data / "aflw21")
    options = ["--limit", "6", "--expression-prior", "2.5"]
    code = fit_3dmm.main(["--format", "aflw21", "--root", root, "--out", str(out), *options])
    assert code == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    # a prior given is used; the others stay the sparse fit's own
    assert summary["expression_prior"] == 2.5 and summary["shape_prior"] == SPARSE_FIT.shape_prior
    assert summary["count"] == 6 and summary["filter"]["kept"] > 18000
    assert summary["fit_nme"]["median"] < 4.0 and "60-90" in summary["by_yaw"]
    targets = read_targets(out)
    assert len(targets) == 6 and targets.sparse.all()
