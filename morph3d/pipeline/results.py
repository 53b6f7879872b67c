"""What the pipeline returns: a reconstructed face and a tracked face, and their one
serialisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FaceResult", "TrackedFace"]


def _common(landmarks: np.ndarray, pose: np.ndarray, params: np.ndarray, box: np.ndarray) -> dict:
    yaw, pitch, roll = (round(float(v), 3) for v in pose)
    return {
        "box": np.round(np.asarray(box, dtype=np.float64), 2).tolist(),
        "landmarks": np.round(np.asarray(landmarks, dtype=np.float64), 3).tolist(),
        "pose": {"yaw": yaw, "pitch": pitch, "roll": roll},
        "params": [float(f"{v:.6g}") for v in params],
    }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {name: round(float(value), 4) for name, value in values.items()}


@dataclass(frozen=True)
class FaceResult:
    """One reconstructed face, all in image pixels (x right, y down, z toward the viewer).

    Attributes:
        vertices: ``(N, 3)`` mesh vertices (the model's surface, without the landmark rows).
        landmarks: ``(68, 3)`` landmarks (the model's landmark vertices).
        params: ``(62,)`` raw parameters (crop frame of ``box``).
        pose: ``(3,)`` yaw, pitch, roll in degrees (:mod:`morph3d.core.pose` conventions).
        box: ``(4,)`` the final crop box the network saw.
        detection_box: ``(4,)`` the detector's (or the given) box.
        score: Detector score (1.0 for a given box).
        blendshapes: Coefficients in [0, 1] by ARKit name (``eyeBlinkLeft``, ...; the
            subject's left and right): the eye and brow ones already applied to ``vertices`` and
            ``landmarks``, the mouth ones (``jawOpen``, ``mouthSmileLeft``, ...) read off the
            expression (:mod:`morph3d.core.mouth`);
            empty when the reconstructor fits none.
    """

    vertices: np.ndarray
    landmarks: np.ndarray
    params: np.ndarray
    pose: np.ndarray
    box: np.ndarray
    detection_box: np.ndarray
    score: float
    blendshapes: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers: ``box``, ``landmarks`` (68 x [x, y, z]), ``pose`` (``yaw``,
        ``pitch``, ``roll`` in degrees), ``params`` (62), ``detection_box``, ``score`` and
        ``blendshapes``; the mesh itself is left to mesh files."""
        out = _common(self.landmarks, self.pose, self.params, self.box)
        out["detection_box"] = np.round(self.detection_box, 2).tolist()
        out["score"] = round(float(self.score), 4)
        out["blendshapes"] = _rounded(self.blendshapes)
        return out


@dataclass(frozen=True)
class TrackedFace:
    """One face in one frame, smoothed, in image pixels (x right, y down, z toward the viewer).

    Attributes:
        id: Track id, stable across frames.
        vertices: ``(N, 3)`` smoothed mesh vertices.
        landmarks: ``(68, 3)`` smoothed landmarks: the mesh's landmark vertices, except the
            eyelids (:data:`morph3d.core.landmarks68.EYELIDS`) when the eye refiner re-reads
            them.
        raw_landmarks: ``(68, 3)`` landmarks of this frame's prediction before smoothing.
        params: ``(62,)`` raw parameters in the crop frame of ``box`` (smoothed only with
            ``smooth="params"``).
        pose: ``(3,)`` yaw, pitch, roll in degrees.
        box: ``(4,)`` the crop box the network saw on this frame.
        detected: Whether this frame's crop came from the detector (a new or restarted track).
        blendshapes: Coefficients in [0, 1] by ARKit name, as in :class:`FaceResult` (filtered
            with ``smooth="params"``, this frame's fit otherwise).
    """

    id: int
    vertices: np.ndarray
    landmarks: np.ndarray
    raw_landmarks: np.ndarray
    params: np.ndarray
    pose: np.ndarray
    box: np.ndarray
    detected: bool
    blendshapes: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers: ``id``, ``box``, ``landmarks`` (68 x [x, y, z]), ``pose``
        (``yaw``, ``pitch``, ``roll`` in degrees), ``params`` (62), ``detected`` and
        ``blendshapes``."""
        return {"id": self.id, **_common(self.landmarks, self.pose, self.params, self.box),
                "detected": self.detected, "blendshapes": _rounded(self.blendshapes)}  # fmt: skip
