"""A second network for the faces the first one sees turned far: a large-pose specialist.

The reference's "multiple networks" in their simplest form. One network cannot be best at both
ends here: the default is held to the 300W validation figure and to the tracker's steadiness,
and fine-tuning it further on large poses gave both away (README, *Large poses*). A specialist
trained for large poses alone takes over the faces that the default network itself finds
turned by :data:`SPECIALIST_YAW` or more, on the same crops; the others keep the default's
prediction. It costs a second network run on those faces only.

The threshold was set before measuring (the edge of the frontal bin of AFLW2000-3D's
conventional |yaw| bins), not chosen on the evaluation faces.

With the mirrored-crop ensemble (:class:`~morph3d.inference.flip.FlipAveraged`) the specialist
can also predict the mirrored crop of every face while the first network predicts the crop: an
ensemble of the two networks that costs nothing over the mirror pass (:func:`with_specialist`).
"""

from __future__ import annotations

import numpy as np

from morph3d.core.mirror import ParamMirror
from morph3d.core.pose import turned_by
from morph3d.inference.flip import FlipAveraged
from morph3d.inference.predictor import Predictor

__all__ = ["SPECIALIST_YAW", "YawRouted", "with_specialist"]

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
        return turned_by(np.asarray(params)[:, :12], self.min_yaw)


def with_specialist(
    network: Predictor,
    specialist: Predictor | None,
    mirror: ParamMirror | None,
    min_yaw: float | None = SPECIALIST_YAW,
    on_mirror: bool = True,
) -> Predictor:
    """The network with its mirrored crop and a specialist, as :class:`Reconstructor` and
    ``morph3d evaluate`` run them.

    Args:
        network: The first network, bare (no mirror).
        specialist: The large-pose network, bare; None: the network alone.
        mirror: The parameter mirror of the model: each face is averaged with its mirrored
            crop (:class:`~morph3d.inference.flip.FlipAveraged`); None: no mirror.
        min_yaw: |yaw| from which the specialist takes over a face (:class:`YawRouted`);
            None: it takes over none.
        on_mirror: With ``mirror``, the specialist predicts the mirrored crops while the
            network predicts the crops (both mirrored when it takes over).

    Returns:
        The predictor.
    """
    first = network
    if mirror is not None:
        first = FlipAveraged(network, mirror, specialist if on_mirror else None)
        if specialist is not None:
            specialist = FlipAveraged(specialist, mirror)
    if specialist is None or min_yaw is None:
        return first
    return YawRouted(first, specialist, min_yaw)
