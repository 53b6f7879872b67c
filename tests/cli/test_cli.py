from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from morph3d.cli import main
from morph3d.io.image import read_image

from ..conftest import short_clip


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

    from morph3d.inference.network import Regressor

    network = Regressor(0.5)
    network.set_statistics(real_model.layout.mean, real_model.layout.std)
    torch.save(network.state_dict(), tmp_path / "w.pt")
    other = tmp_path / "other.json"
    faces = {"x": {"nme": 3.0, "yaw": 10.0}, "y": {"nme": 5.0, "yaw": -70.0}}
    other.write_text(json.dumps({"per_image": faces}))
    report_path = tmp_path / "report.json"
    command = [
        "evaluate", "--dataset", "aflw2000-3d",
        "--root", str(shared_data / "aflw2000_3d_samples"),
        "--json", str(report_path), "--weights", str(tmp_path / "w.pt"),
        "--plot", str(tmp_path / "ced.png"), "--compare", str(other),
    ]  # fmt: skip
    assert main(command) == 0
    report = json.loads(report_path.read_text())
    assert report["count"] == 3 and set(report["yaw_bins"]) == {"[0, 30)", "[30, 60)", "[60, 90+]"}
    assert {"nme_mean", "nme_median", "nme_balanced", "per_image"} <= set(report)
    assert all(isinstance(face["yaw"], float) for face in report["per_image"].values())
    assert (tmp_path / "ced.png").is_file()  # a panel per |yaw| bin: wider than high
    image = read_image(tmp_path / "ced.png")
    assert image.shape[1] > 3 * image.shape[0]
    # a report from before per-face yaws cannot be split by bin: a one-line error
    other.write_text(json.dumps({"per_image": {"x": {"nme": 3.0}}}))
    assert main(command) == 2


def test_evaluate_with_the_specialist(real_model, shared_data: Path, tmp_path: Path) -> None:
    from morph3d.paths import ASSETS_MODELS, DEFAULT_ONNX_WEIGHTS, SPECIALIST_ONNX_WEIGHTS

    specialist = str(ASSETS_MODELS / SPECIALIST_ONNX_WEIGHTS)
    base = [
        "evaluate",
        "--dataset",
        "aflw2000-3d",
        "--root",
        str(shared_data / "aflw2000_3d_samples"),
    ]

    def report(name: str, *options: str) -> dict:
        assert main([*base, "--json", str(tmp_path / name), *options]) == 0
        return json.loads((tmp_path / name).read_text())

    default = ["--weights", str(ASSETS_MODELS / DEFAULT_ONNX_WEIGHTS)]
    alone = report("alone.json", "--weights", specialist)
    every = report("every.json", *default, "--specialist", specialist, "--specialist-yaw", "0")
    none = report("none.json", *default, "--specialist", specialist, "--specialist-yaw", "180")
    bare = report("bare.json", *default)
    # two specialists share the turned faces: the same file twice is that file alone
    both = [specialist, specialist]
    twice = report("twice.json", *default, "--specialist", *both, "--specialist-yaw", "0")
    assert twice["nme_mean"] == pytest.approx(alone["nme_mean"], abs=1e-9)
    assert twice["specialist"] == both
    assert every["nme_mean"] == pytest.approx(alone["nme_mean"], abs=1e-9)
    assert none["nme_mean"] == pytest.approx(bare["nme_mean"], abs=1e-9)
    assert every["specialist"] == specialist and every["specialist_yaw"] == 0.0
    assert bare["specialist"] is None
    with pytest.raises(SystemExit) as stop:  # a usage error, not a traceback
        main([*base, "--json", str(tmp_path / "x.json"), "--specialist-yaw", "-5"])
    assert stop.value.code == 2
    with pytest.raises(SystemExit) as stop:
        main([*base, "--json", str(tmp_path / "x.json"), "--refine-yaw", "200"])
    assert stop.value.code == 2
    with pytest.raises(SystemExit) as stop:
        main([*base, "--json", str(tmp_path / "x.json"), "--refine", "-1"])
    assert stop.value.code == 2
    gated = report("gated.json", *default, "--refine", "1", "--refine-yaw", "30")
    assert gated["refine"] == 1 and gated["refine_yaw"] == 30.0
    assert bare["refine"] == 0 and bare["refine_yaw"] == 0.0


@pytest.mark.integration
def test_evaluate_without_weights_names_the_command(tmp_path: Path, capsys) -> None:
    code = main(
        ["evaluate", "--dataset", "300w", "--root", str(tmp_path), "--json", str(tmp_path / "r"),
         "--weights", str(tmp_path / "missing.pt")]
    )  # fmt: skip
    assert code == 2 and "scripts/train.py" in capsys.readouterr().err


def test_track_writes_the_documented_json(shared_data: Path, tmp_path: Path, capsys) -> None:
    from morph3d.io.video import VideoReader
    from morph3d.pipeline.tracker import TRACKING_STAGES

    source = VideoReader(shared_data / "videos" / "d0.mp4")
    clip = short_clip(source.path, tmp_path / "clip.mp4", 12)
    out, report = tmp_path / "out" / "tracked.mp4", tmp_path / "out" / "tracked.json"
    assert main(["track", str(clip), "-o", str(out), "--json", str(report)]) == 0
    video = VideoReader(out)
    assert (video.fps, video.width, video.height) == (source.fps, source.width, source.height)
    assert sum(1 for _ in video) == 12
    data = json.loads(report.read_text())
    assert data["fps"] == source.fps and data["frames_decoded"] == 12
    assert data["skipped_frames"] == [] and data["tracker"]["smooth"] == "vertices"
    assert [frame["index"] for frame in data["frames"]] == list(range(12))
    for frame in data["frames"]:
        (face,) = frame["faces"]
        assert face["id"] == 0 and len(face["box"]) == 4 and len(face["params"]) == 62
        landmarks = np.array(face["landmarks"])
        assert landmarks.shape == (68, 3) and len(face["pose"]) == 3
        assert (landmarks[:, :2] > 0).all() and (landmarks[:, :2] < 512).all()
    assert data["frames"][0]["faces"][0]["detected"] is True
    stages = data["tracker_ms_per_frame"]
    assert tuple(stages) == TRACKING_STAGES and stages["network"] > 0 and stages["detector"] > 0
    assert "tracker ms per frame: network" in capsys.readouterr().out


def test_track_refuses_a_non_video(tmp_path: Path, capsys) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_text("nope")
    assert main(["track", str(junk), "-o", str(tmp_path / "out.mp4")]) == 2
    assert "cannot open" in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.integration
def test_track_and_ar_refuse_to_overwrite_their_input(
    shared_data: Path, tmp_path: Path, capsys
) -> None:
    clip = short_clip(shared_data / "videos" / "d0.mp4", tmp_path / "clip.mp4", 3)
    before = clip.read_bytes()
    assert main(["track", str(clip), "-o", str(clip)]) == 2
    assert main(["track", str(clip), "-o", str(tmp_path / "o.mp4"), "--json", str(clip)]) == 2
    assert main(["ar", str(clip), "-o", str(tmp_path / "." / "clip.mp4")]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert clip.read_bytes() == before and not (tmp_path / "o.mp4").exists()
    photo = tmp_path / "photo.jpg"  # ar on a photo, written over itself
    photo.write_bytes((shared_data / "photos" / "obama.jpg").read_bytes())
    picture = photo.read_bytes()
    assert main(["ar", str(photo), "-o", str(photo)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert photo.read_bytes() == picture


@pytest.mark.integration
def test_evaluate_refuses_a_missing_or_empty_dataset(real_model, tmp_path: Path, capsys) -> None:
    report = tmp_path / "r.json"
    base = ["evaluate", "--dataset", "300w", "--json", str(report)]
    assert main([*base, "--root", str(tmp_path / "nowhere")]) == 2
    assert "no dataset at" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([*base, "--root", str(tmp_path / "empty")]) == 2
    assert "no annotated 300w faces" in capsys.readouterr().err
    assert not report.exists()


@pytest.mark.integration
def test_sigterm_during_track_leaves_nothing_behind(shared_data: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    out.mkdir()
    # d6 (1,008 frames, seconds of work): the 78 frames of d0 were once all tracked between
    # the writer's first file and the signal (a fresh-clone CI run, session 19)
    command = [sys.executable, "-m", "morph3d.cli", "track",
               str(shared_data / "videos" / "d6.mp4"), "-o", str(out / "t.mp4")]  # fmt: skip
    # A parent that ignores SIGTERM (some CI runners do) passes SIG_IGN on, and the command
    # rightly keeps an inherited SIG_IGN: give the child the default disposition.
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not any(out.iterdir()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # until the writer has made its hidden temporary folder
    assert process.poll() is None, "track finished before it could be stopped"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert list(out.iterdir()) == []


@pytest.mark.integration
def test_ar_on_a_photo_needs_an_image_output(shared_data: Path, tmp_path: Path, capsys) -> None:
    photo = shared_data / "photos" / "obama.jpg"
    assert main(["ar", str(photo), "-o", str(tmp_path / "x.mp4")]) == 2
    assert "no image file name" in capsys.readouterr().err and not (tmp_path / "x.mp4").exists()


@pytest.mark.integration
def test_a_read_only_output_folder_is_a_one_line_error(
    shared_data: Path, tmp_path: Path, capsys
) -> None:
    import os

    if os.geteuid() == 0:  # root writes anywhere: make the folder a file instead
        blocked = tmp_path / "file"
        blocked.write_text("not a folder")
    else:
        blocked = tmp_path / "ro"
        blocked.mkdir(mode=0o500)
    clip = short_clip(shared_data / "videos" / "d0.mp4", tmp_path / "clip.mp4", 2)
    assert main(["track", str(clip), "-o", str(blocked / "out" / "t.mp4")]) == 2
    assert capsys.readouterr().err.startswith("morph3d: error:")


def test_export_writes_a_checked_onnx_and_the_best_int8_copy(
    tiny_model, tmp_path: Path, capsys, monkeypatch
) -> None:
    import torch

    from morph3d.inference.network import Regressor
    from morph3d.training.targets import write_targets

    from ..conftest import make_tiny_targets

    network = Regressor(0.5)
    network.set_statistics(np.linspace(-2, 60, 62), np.linspace(0.01, 5, 62))
    torch.save(network.state_dict(), tmp_path / "w.pt")
    targets = write_targets(tmp_path / "t.h5", make_tiny_targets(tiny_model, count=60))
    model = tiny_model.save(tmp_path / "tiny.npz")
    command = [
        "export", "--weights", str(tmp_path / "w.pt"), "--model", str(model),
        "--int8", str(targets), "--calibration", "16", "--percentiles", "99.9", "99.99",
    ]  # fmt: skip
    assert main(command) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "w.onnx").is_file() and (tmp_path / "w_int8.onnx").is_file()
    assert "99.9: " in out and "99.99: " in out and "validation crops" in out
    # a targets file that is not there: a one-line error, nothing written
    (tmp_path / "w_int8.onnx").unlink()
    command[command.index(str(targets))] = str(tmp_path / "none.h5")
    assert main(command) == 2
    assert "none.h5" in capsys.readouterr().err and not (tmp_path / "w_int8.onnx").exists()
    # LiteRT copies need the calibration crops and TensorFlow: refused before any work
    (tmp_path / "w.onnx").unlink()
    assert main(["export", "--weights", str(tmp_path / "w.pt"), "--litert"]) == 2
    assert "--litert needs --int8" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    command[command.index(str(tmp_path / "none.h5"))] = str(targets)
    assert main([*command, "--litert"]) == 2
    assert "needs tensorflow-cpu" in capsys.readouterr().err
    assert not (tmp_path / "w.onnx").exists() and not (tmp_path / "w_int8.tflite").exists()
