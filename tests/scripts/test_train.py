"""scripts/train.py refuses settings and files it cannot use, with one line and no traceback;
and it trains and resumes under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import REPO, load_script

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("option", [["--epochs", "0"], ["--val-fraction", "0"]])
def test_refuses_settings_that_cannot_train(tmp_path: Path, option: list[str], capsys) -> None:
    train = load_script("scripts/train.py")
    with pytest.raises(SystemExit) as stop:
        train.main(["--data", str(tmp_path / "t.h5"), "--run", str(tmp_path / "run"), *option])
    assert stop.value.code == 2 and option[0] in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_setting_out_of_range_is_a_usage_error(tmp_path: Path, capsys) -> None:
    train = load_script("scripts/train.py")
    with pytest.raises(SystemExit) as stop:
        train.main(["--data", str(tmp_path / "t.h5"), "--run", str(tmp_path / "run"),
                    "--min-yaw", "95"])  # fmt: skip
    assert stop.value.code == 2 and "min_yaw must be in [0, 90)" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_truncated_checkpoint_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    train = load_script("scripts/train.py")
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    code = train.main(["--data", str(tmp_path / "t.h5"), "--run", str(run), "--resume"])
    error = capsys.readouterr().err
    assert code == 2 and "checkpoint.pt" in error and "Traceback" not in error


def _tiny_inputs(folder: Path) -> tuple[Path, Path]:
    """A targets file of 24 random faces of a tiny morphable model, and that model's file."""
    from morph3d.training.targets import write_targets

    from ..conftest import make_tiny_model, make_tiny_targets

    model = make_tiny_model()
    data = write_targets(folder / "tiny.h5", make_tiny_targets(model, count=24))
    return data, model.save(folder / "tiny_model.npz")


def _torchrun(processes: int, *options: str) -> subprocess.CompletedProcess[str]:
    """``torchrun --standalone --nproc_per_node N scripts/train.py OPTIONS`` (torchrun being
    ``python -m torch.distributed.run``), with this checkout's morph3d."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc_per_node", str(processes), str(REPO / "scripts" / "train.py"), *options,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_under_torchrun_trains_and_resumes(tmp_path: Path) -> None:
    data, model = _tiny_inputs(tmp_path)
    run = tmp_path / "run"
    # The acceptance command, on the tiny model (with its default of 2 loader workers each).
    common = ["--data", str(data), "--run-dir", str(run), "--model", str(model), "--width", "0.5"]
    first = _torchrun(2, *common, "--epochs", "1", "--batch-size", "8", "--threads", "1")
    assert first.returncode == 0, first.stdout + first.stderr
    # Rank 0 alone speaks.
    assert first.stdout.count("train: done") == 1, first.stdout
    assert "2 process(es), global batch 8 (4 per process)" in first.stdout
    assert {"checkpoint.pt", "log.json", "log.csv", "curves.png"} <= {p.name for p in run.iterdir()}
    log = json.loads((run / "log.json").read_text())
    assert log["world_size"] == 2 and log["batch_size_per_rank"] == 4
    assert log["config"]["batch_size"] == 8

    # Two more epochs: the loader workers of the last one fork after a validation.
    second = _torchrun(2, *common, "--resume", "--epochs", "3")
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.count("train: resuming after epoch 1") == 1, second.stdout
    log = json.loads((run / "log.json").read_text())
    assert [row["epoch"] for row in log["history"]] == [1, 2, 3]
    assert [row["world_size"] for row in log["history"]] == [2, 2, 2]
    # The resumed run keeps the first run's settings (--threads 1, the global batch of 8).
    assert log["config"]["threads"] == 1 and log["config"]["batch_size"] == 8
