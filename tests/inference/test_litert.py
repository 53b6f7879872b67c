"""LiteRT sessions: the shipped ``.tflite`` regressors run like ONNX Runtime sessions."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from morph3d.errors import ModelFormatError, ModelNotFoundError
from morph3d.inference import litert
from morph3d.inference.litert import LiteRTSession, network_file
from morph3d.inference.session import create_session
from morph3d.paths import ASSETS_MODELS, DEFAULT_ONNX_WEIGHTS

pytest.importorskip("ai_edge_litert", reason="ai-edge-litert has no wheel for this platform")

SHIPPED = ASSETS_MODELS / Path(DEFAULT_ONNX_WEIGHTS).with_suffix(".tflite")


@pytest.fixture(scope="module")
def session() -> LiteRTSession:
    made = create_session(SHIPPED, "test")
    assert isinstance(made, LiteRTSession)
    return made


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (3, 3, 120, 120)).astype(np.float32)


def test_describes_its_input_and_output_as_onnx_runtime_does(session: LiteRTSession) -> None:
    (given,) = session.get_inputs()
    (output,) = session.get_outputs()
    assert given.shape == ["batch", 3, 120, 120]
    assert output.shape == ["batch", 62]


def test_any_batch_size_gives_each_crop_its_own_answer(session, batch) -> None:
    (whole,) = session.run(None, {"crops": batch})
    alone = np.concatenate([session.run(None, {"crops": batch[k : k + 1]})[0] for k in range(3)])
    assert whole.shape == (3, 62) and whole.dtype == np.float32
    np.testing.assert_array_equal(whole, alone)
    (none,) = session.run(None, {"crops": batch[:0]})
    assert none.shape == (0, 62)


def test_runs_from_two_threads_at_once_match_runs_in_turn(session, batch) -> None:
    expected = [session.run(None, {"crops": batch[k : k + 1]})[0] for k in range(2)]
    results: dict[int, list[np.ndarray]] = {0: [], 1: []}
    start = threading.Barrier(2)

    def work(k: int) -> None:
        start.wait()
        for _ in range(20):
            results[k].append(session.run(None, {"crops": batch[k : k + 1]})[0])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k in range(2):
        for result in results[k]:
            np.testing.assert_array_equal(result, expected[k])


def test_missing_and_corrupt_files_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="make it"):
        LiteRTSession(tmp_path / "none.tflite", "make it")
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer" * 8)
    with pytest.raises(ModelFormatError, match="LiteRT cannot load it"):
        LiteRTSession(broken, "make it")


def test_network_file_prefers_the_litert_copy_where_it_runs(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "net_int8.onnx").write_bytes(b"")
    assert network_file("net_int8.onnx", [tmp_path]) == "net_int8.onnx"  # no copy
    (tmp_path / "net_int8.tflite").write_bytes(b"")
    assert network_file("net_int8.onnx", [tmp_path]) == "net_int8.tflite"
    monkeypatch.setattr(litert, "litert_available", lambda: False)
    assert network_file("net_int8.onnx", [tmp_path]) == "net_int8.onnx"  # no runtime


def test_loading_prints_nothing(tmp_path: Path) -> None:
    code = (
        "import numpy as np\n"
        "from morph3d.inference.session import create_session\n"
        f"s = create_session({str(SHIPPED)!r}, 'x')\n"
        "s.run(None, {'crops': np.zeros((2, 3, 120, 120), np.float32)})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""  # LiteRT's one INFO line went nowhere


def test_loads_in_a_process_without_standard_error(tmp_path: Path) -> None:
    out = tmp_path / "shape.txt"
    code = (
        "import numpy as np\n"
        "from morph3d.inference.session import create_session\n"
        f"s = create_session({str(SHIPPED)!r}, 'x')\n"
        "shape = s.run(None, {'crops': np.zeros((1, 3, 120, 120), np.float32)})[0].shape\n"
        f"open({str(out)!r}, 'w').write(str(shape))\n"
    )
    # a daemon's standard error can be closed: Python's sys.stderr is None there
    done = subprocess.run(["bash", "-c", f'"{sys.executable}" -c "$0" 2>&-', code])
    assert done.returncode == 0 and out.read_text() == "(1, 62)"
