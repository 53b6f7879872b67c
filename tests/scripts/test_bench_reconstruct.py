from __future__ import annotations

from pathlib import Path

from morph3d.paths import ASSETS_MODELS

from ..conftest import load_script

bench = load_script("scripts/bench_reconstruct.py")


def test_benchmark_reports_every_stage(shared_data: Path, capsys) -> None:
    weights = ASSETS_MODELS / "shufflenetv2_x1.onnx"
    report = bench.run_benchmark([shared_data / "photos" / "obama.jpg"], [weights], repeats=2)
    network = report["networks"][weights.name]
    stages = network["stages_640x480"]
    assert set(stages) == {"decode", "detect", "crop", "network", "mesh", "whole"}
    assert all(0 < figures["median_ms"] <= figures["p90_ms"] for figures in stages.values())
    assert network["process"]["peak_rss_mb"] > 10 and network["size_mb"] > 1
    assert "available" in report["mediapipe"]
    bench.print_report(report)
    assert "whole" in capsys.readouterr().out
