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


def test_evaluate_writes_report_and_plot(real_model, shared_data: Path, tmp_path: Path) -> None:
    import torch

    from morph3d.network import Regressor

    network = Regressor(0.5)
    network.set_statistics(real_model.layout.mean, real_model.layout.std)
    torch.save(network.state_dict(), tmp_path / "w.pt")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"per_image": {"x": {"nme": 3.0}, "y": {"nme": 5.0}}}))
    report_path = tmp_path / "report.json"
    code = main(
        [
            "evaluate", "--dataset", "aflw2000-3d",
            "--root", str(shared_data / "aflw2000_3d_samples"),
            "--json", str(report_path), "--weights", str(tmp_path / "w.pt"),
            "--plot", str(tmp_path / "ced.png"), "--compare", str(other),
        ]
    )  # fmt: skip
    assert code == 0
    report = json.loads(report_path.read_text())
    assert report["count"] == 3 and set(report["yaw_bins"]) == {"[0, 30)", "[30, 60)", "[60, 90+]"}
    assert {"nme_mean", "nme_median", "nme_balanced", "per_image"} <= set(report)
    assert (tmp_path / "ced.png").is_file()


def test_evaluate_without_weights_names_the_command(tmp_path: Path, capsys) -> None:
    code = main(
        ["evaluate", "--dataset", "300w", "--root", str(tmp_path), "--json", str(tmp_path / "r"),
         "--weights", str(tmp_path / "missing.pt")]
    )  # fmt: skip
    assert code == 2 and "scripts/train.py" in capsys.readouterr().err
