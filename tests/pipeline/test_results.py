"""The one serialisation of reconstructed and tracked faces."""

from __future__ import annotations

import json

import numpy as np

from morph3d.pipeline.results import FaceResult, TrackedFace


def _face_arrays() -> dict:
    rng = np.random.default_rng(0)
    return {
        "vertices": rng.normal(size=(10, 3)),
        "landmarks": rng.normal(size=(68, 3)) * 100,
        "params": rng.normal(size=62),
        "pose": np.array([10.123456, -5.5, 2.0]),
        "box": np.array([1.0, 2.0, 101.0, 102.0]),
    }


def test_both_results_serialise_alike() -> None:
    arrays = _face_arrays()
    result = FaceResult(**arrays, detection_box=np.array([0.0, 0, 90, 90]), score=0.97)
    tracked = TrackedFace(id=3, raw_landmarks=arrays["landmarks"], detected=True, **arrays)
    one, other = result.to_dict(), tracked.to_dict()
    for key in ("box", "landmarks", "pose", "params"):
        assert one[key] == other[key]
    assert one["pose"] == {"yaw": 10.123, "pitch": -5.5, "roll": 2.0}
    assert np.array(one["landmarks"]).shape == (68, 3) and len(one["params"]) == 62
    np.testing.assert_allclose(one["landmarks"], arrays["landmarks"], atol=5e-4)
    assert other["id"] == 3 and other["detected"] is True and one["score"] == 0.97
    json.dumps(one), json.dumps(other)  # plain numbers only
