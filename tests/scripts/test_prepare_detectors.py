"""scripts/prepare_detectors.py: the cached Ultra-Light graphs compute what the shared ones do,
their box offsets decoded by the detector, at any input size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from morph3d.detection.ultralight import decode_boxes, priors

from ..conftest import load_script

prepare_detectors = load_script("scripts/prepare_detectors.py")


def _run(model: onnx.ModelProto, image: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: image})


def test_prepared_detectors_give_the_same_outputs(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "detectors"
    assert prepare_detectors.main(["--source", str(source), "--out", str(tmp_path)]) == 0
    image = np.random.default_rng(0).uniform(-1, 1, (1, 3, 240, 320)).astype(np.float32)
    for name in ("version-RFB-320.onnx", "version-slim-320.onnx"):
        original, prepared = onnx.load(str(source / name)), onnx.load(str(tmp_path / name))
        weights = {item.name for item in prepared.graph.initializer}
        assert not weights & {item.name for item in prepared.graph.input}
        assert weights <= {name for node in prepared.graph.node for name in node.input}
        scores, boxes = _run(original, image)
        prepared_scores, offsets = _run(prepared, image)
        np.testing.assert_allclose(prepared_scores, scores, rtol=0, atol=1e-6)
        np.testing.assert_allclose(decode_boxes(offsets[0], priors(320, 240)), boxes[0], atol=2e-6)
        assert dict((p.key, p.value) for p in prepared.metadata_props)["input_size"] == "320x240"
        smaller = np.zeros((1, 3, 144, 192), np.float32)
        assert all(len(out[0]) == len(priors(192, 144)) for out in _run(prepared, smaller))
    # A second run finds the folder up to date and leaves it alone.
    stamp = (tmp_path / "SOURCES").stat().st_mtime_ns
    assert prepare_detectors.main(["--source", str(source), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "SOURCES").stat().st_mtime_ns == stamp
