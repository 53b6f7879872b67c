from __future__ import annotations

from pathlib import Path

import pytest

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


def test_the_reconstructor_as_shipped_is_timed_with_both_networks(shared_data: Path) -> None:
    from morph3d.inference.litert import litert_available, network_file
    from morph3d.paths import DEFAULT_ONNX_WEIGHTS, SPECIALIST_ONNX_WEIGHTS

    report = bench.run_benchmark([shared_data / "photos" / "obama.jpg"], [None], repeats=1)
    names = list(report["networks"])
    assert names[0].startswith("as shipped") and len(names) == 1 + litert_available()
    shipped = (DEFAULT_ONNX_WEIGHTS, SPECIALIST_ONNX_WEIGHTS)
    # the files it runs: the LiteRT copies where LiteRT is installed, then the ONNX ones
    runs = [[network_file(name, [ASSETS_MODELS]) for name in shipped], list(shipped)]
    for name, files in zip(names, runs, strict=False):
        network = report["networks"][name]
        size = sum((ASSETS_MODELS / file).stat().st_size for file in files) / 1e6
        assert network["flip"] and network["size_mb"] == pytest.approx(size)
        assert network["process"]["exit_status"] == 0 and "whole" in network["stages_640x480"]


@pytest.mark.integration
def test_a_photo_without_a_face_does_not_crash_the_benchmark(tmp_path: Path) -> None:
    import numpy as np

    from morph3d.io.image import write_image
    from morph3d.paths import ASSETS_MODELS

    bench = load_script("scripts/bench_reconstruct.py")
    blank = write_image(tmp_path / "blank.png", np.full((240, 320, 3), 128, np.uint8))
    report = bench.run_benchmark([blank], [ASSETS_MODELS / "shufflenetv2_x1.onnx"], repeats=1)
    (network,) = report["networks"].values()
    assert network["process"]["exit_status"] == 1 and network["stages_640x480"] == {}


@pytest.mark.integration
def test_the_default_networks_are_the_regressors_only() -> None:
    from morph3d.inference.session import create_session

    networks = bench.default_networks()
    assert networks and "eyes.onnx" not in [path.name for path in networks]
    assert {path.suffix for path in networks} == {".onnx", ".tflite"}
    for path in networks:  # each takes a face crop and gives the 62 parameters
        assert create_session(path, "test").get_outputs()[0].shape[-1] == 62, path.name


def test_head_to_head_takes_turns_with_the_peer(shared_data: Path, monkeypatch, capsys) -> None:
    from types import SimpleNamespace

    seen: list[tuple[int, ...]] = []

    class FakeMesh:  # what bench_reconstruct asks of MediaPipe's FaceMesh
        def __init__(self, static: bool, faces: int) -> None:
            assert static and faces == 10
            self.mesh = SimpleNamespace(process=lambda image: seen.append(image.shape))

    monkeypatch.setattr(bench, "FaceMesh", FakeMesh)
    monkeypatch.setattr(bench, "mediapipe_available", lambda: "fake")
    photo = shared_data / "photos" / "obama.jpg"
    report = bench.run_benchmark([photo], [None], repeats=10)
    assert report["mediapipe"]["available"] and len(seen) == 11 + 11  # alone, then taking turns
    head = report["head_to_head"]
    for name in ("morph3d", "mediapipe"):
        assert 0 < head[name]["median_ms"] <= head[name]["p90_ms"]
        assert len(head[name]["per_input_median_ms"]) == 1
    assert head["ratio"] == head["morph3d"]["median_ms"] / head["mediapipe"]["median_ms"]
    bench.print_report(report)
    assert "head to head" in capsys.readouterr().out
