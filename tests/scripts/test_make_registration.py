"""scripts/make_registration.py: pairs from a real clip, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from morph3d.training.registration import read_pairs

from ..conftest import load_script, short_clip


def test_pairs_from_a_clip(shared_data: Path, tmp_path: Path, capsys) -> None:
    clip = short_clip(shared_data / "videos" / "d3.mp4", tmp_path / "d3.mp4", frames=5)
    script = load_script("scripts/make_registration.py")
    out = tmp_path / "pairs.h5"
    assert script.main(["--videos", str(clip), "--out", str(out), "--every", "2"]) == 0
    pairs = read_pairs(out)
    # Frames 0 and 2 start pairs; frame 4 is the last.
    assert pairs.frame.tolist() == [0, 2] and pairs.clip == ["d3", "d3"]
    assert pairs.first.shape == (2, 240, 240, 3) and pairs.valid[:, 17:].mean() > 0.8
    # A talking head moves by a fraction of a crop unit between frames, not by pixels.
    assert float(np.median(np.abs(pairs.flow[pairs.valid]))) < 2.0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["all"]["pairs"] == 2 and "d3" in summary
    assert "2 pairs" in capsys.readouterr().out


def test_a_missing_video_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    script = load_script("scripts/make_registration.py")
    out = tmp_path / "pairs.h5"
    code = script.main(["--videos", str(tmp_path / "none.mp4"), "--out", str(out)])
    error = capsys.readouterr().err
    assert code == 2 and "none.mp4" in error and "Traceback" not in error
    assert not out.exists()
