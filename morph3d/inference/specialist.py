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

Several specialists can share the turned faces: each predicts them (with its mirrored crop) and
their parameters are averaged (:class:`Averaged`). The shipped large-pose network with the 1.5x
network beside it is the accurate setting of session 17 (README, *Two specialists*).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from morph3d.core.mirror import ParamMirror
from morph3d.core.pose import turned_by
from morph3d.inference.flip import FlipAveraged
from morph3d.inference.predictor import Predictor

__all__ = ["SPECIALIST_YAW", "Averaged", "YawRouted", "recrop_predictor", "with_specialist"]

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


class Averaged:
    """A :class:`~morph3d.inference.predictor.Predictor` that averages the raw parameters of
    several networks (of the same morphable model) on the same crops: an ensemble.

    Args:
        predictors: The networks, at least one.
    """

    def __init__(self, predictors: Sequence[Predictor]) -> None:
        if not predictors:
            raise ValueError("an ensemble needs at least one network")
        self.predictors = list(predictors)

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """``(B, S, S, 3)`` uint8 RGB crops -> ``(B, 62)`` raw parameters (float64): the mean
        of the networks' predictions."""
        return np.mean(
            [np.asarray(p.predict(crops), dtype=np.float64) for p in self.predictors], axis=0
        )


def with_specialist(
    network: Predictor,
    specialist: Predictor | Sequence[Predictor] | None,
    mirror: ParamMirror | None,
    min_yaw: float | None = SPECIALIST_YAW,
    on_mirror: bool = True,
) -> Predictor:
    """The network with its mirrored crop and a specialist, as :class:`Reconstructor` and
    ``morph3d evaluate`` run them.

    Args:
        network: The first network, bare (no mirror).
        specialist: The large-pose network, bare; several: the faces turned far get the mean
            of their predictions (:class:`Averaged`, each with its mirrored crop), and the first
            is the one that predicts the mirrored crops; None or empty: the network alone.
        mirror: The parameter mirror of the model: each face is averaged with its mirrored
            crop (:class:`~morph3d.inference.flip.FlipAveraged`); None: no mirror.
        min_yaw: |yaw| from which the specialist takes over a face (:class:`YawRouted`);
            None: it takes over none.
        on_mirror: With ``mirror``, the specialist predicts the mirrored crops while the
            network predicts the crops (both mirrored when it takes over).

    Returns:
        The predictor.
    """
    given = list(specialist) if isinstance(specialist, Sequence) else [specialist]
    specialists: list[Predictor] = [s for s in given if s is not None]
    partner = specialists[0] if specialists else None
    first = network
    if mirror is not None:
        first = FlipAveraged(network, mirror, partner if on_mirror else None)
        specialists = [FlipAveraged(s, mirror) for s in specialists]
    if not specialists or min_yaw is None:
        return first
    takeover = specialists[0] if len(specialists) == 1 else Averaged(specialists)
    return YawRouted(first, takeover, min_yaw)


def recrop_predictor(predictor: Predictor, refine_yaw: float) -> Predictor:
    """The predictor of a pass that re-crops the faces turned by ``refine_yaw`` or more.

    With a :class:`YawRouted` predictor and ``refine_yaw`` at or above its ``min_yaw``, the
    re-cropped faces go straight to the specialist. The router would run the first network
    on each new crop only to hand the face on again. Without jitter, every face such a pass
    re-crops was the specialist's in the pass before: a face the first network kept has that
    network's |yaw|, under ``min_yaw``. The photo ``emma.jpg``, with two faces turned past
    30°, took 21-24 ms against 26-28. On held-out faces 13 of the 1,728 AFLW-21 validation
    crops (padded, found by the detector) changed, and the balanced 21-point NME went from
    6.2804 to 6.2809. On the 122 300W validation photos it went from 3.5747 to 3.5779
    (session 18, ``work/s18_sticky_eval.py``). With jitter, each moved crop of a re-cropped
    face goes to the specialist, including a copy the router would have kept.

    Args:
        predictor: The predictor of the first pass.
        refine_yaw: The |yaw| from which faces are re-cropped.

    Returns:
        The specialist, or ``predictor`` itself when some re-cropped face may be one the
        first network kept (``refine_yaw`` under ``min_yaw``) or there is no router.
    """
    if isinstance(predictor, YawRouted) and refine_yaw >= predictor.min_yaw:
        return predictor.specialist
    return predictor
