"""A second network for the faces the first one sees turned far: a large-pose specialist.

The reference's "multiple networks" in their simplest form. One network cannot be best at both
ends here: the default is held to the 300W validation figure and to the tracker's steadiness,
and fine-tuning it further on large poses gave both away (README, *Large poses*). A specialist
trained for large poses alone takes over the faces that the default network itself finds
turned by :data:`SPECIALIST_YAW` or more, on the same crops; the others keep the default's
prediction. It costs a second network run on those faces only.

The threshold was set before measuring (the edge of the frontal bin of AFLW2000-3D's
conventional |yaw| bins), not chosen on the evaluation faces.
"""

from __future__ import annotations

import numpy as np

from morph3d.core.pose import decompose_pose
from morph3d.inference.predictor import Predictor

__all__ = ["SPECIALIST_YAW", "YawRouted"]

#: Degrees of |yaw| (the first network's) from which the specialist predicts a face.
SPECIALIST_YAW = 30.0


class YawRouted:
    """A :class:`~morph3d.inference.predictor.Predictor` that hands the crops of far-turned
    faces to a specialist.

    Args:
        predictor: The first network; its prediction of every crop decides.
        specialist: The network for the faces it finds turned by ``min_yaw`` or more (the same
            morphable model's parameters).
        min_yaw: |yaw| in degrees from which the specialist's parameters replace the first
            network's.
    """

    def __init__(
        self, predictor: Predictor, specialist: Predictor, min_yaw: float = SPECIALIST_YAW
    ) -> None:
        if not 0 <= min_yaw <= 180:
            raise ValueError(f"min_yaw must be in [0, 180] degrees, got {min_yaw}")
        self.predictor = predictor
        self.specialist = specialist
        self.min_yaw = float(min_yaw)

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """``(B, S, S, 3)`` uint8 RGB crops -> ``(B, 62)`` raw parameters (float64): the
        specialist's where the first network's |yaw| is at least ``min_yaw``."""
        crops = np.asarray(crops)
        params = np.asarray(self.predictor.predict(crops), dtype=np.float64)
        if not len(params):
            return params
        far = self.turned(params)
        if far.any():
            params = params.copy()
            params[far] = self.specialist.predict(crops[far])
        return params

    def turned(self, params: np.ndarray) -> np.ndarray:
        """``(B,)`` whether each of ``(B, 62)`` raw parameters is turned by ``min_yaw`` or
        more."""
        yaw = decompose_pose(np.asarray(params)[:, :12]).angles[:, 0]
        return np.abs(yaw) >= self.min_yaw
