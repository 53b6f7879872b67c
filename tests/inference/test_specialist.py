"""The large-pose specialist's routing: which faces it predicts, and nothing else changes."""

from __future__ import annotations

import numpy as np
import pytest

from morph3d.core.pose import angles_to_rotation, compose_pose
from morph3d.inference.specialist import SPECIALIST_YAW, YawRouted, recrop_predictor


class _Fixed:
    """A predictor that returns one stored parameter row per crop (indexed by the crop's first
    pixel) and records the crops it was given."""

    def __init__(self, params: np.ndarray) -> None:
        self.params, self.seen = params, []

    def predict(self, crops: np.ndarray) -> np.ndarray:
        self.seen.append(crops[:, 0, 0, 0].tolist())
        return self.params[crops[:, 0, 0, 0]]


def _params(yaws: list[float], fill: float) -> np.ndarray:
    """``(B, 62)`` parameters whose pose is turned by ``yaws`` (degrees), the rest ``fill``."""
    angles = np.stack([yaws, np.full(len(yaws), 5.0), np.full(len(yaws), -3.0)], axis=1)
    poses = compose_pose(
        np.full(len(yaws), 1e-3), angles_to_rotation(angles), np.ones((len(yaws), 3))
    )
    params = np.full((len(yaws), 62), fill)
    params[:, :12] = poses.reshape(-1, 12)
    return params


def _crops(count: int) -> np.ndarray:
    crops = np.zeros((count, 4, 4, 3), np.uint8)
    crops[:, 0, 0, 0] = np.arange(count)
    return crops


def test_only_the_far_turned_faces_go_to_the_specialist() -> None:
    yaws = [0.0, 29.9, 30.0, -45.0, 85.0, -10.0]
    first, second = _Fixed(_params(yaws, 1.0)), _Fixed(_params([0.0] * len(yaws), 2.0))
    routed = YawRouted(first, second)
    params = routed.predict(_crops(len(yaws)))
    far = np.abs(yaws) >= SPECIALIST_YAW
    assert second.seen == [np.flatnonzero(far).tolist()]  # one batch, only the far crops
    np.testing.assert_array_equal(params[far], second.params[far])
    np.testing.assert_array_equal(params[~far], first.params[~far])
    np.testing.assert_array_equal(routed.turned(first.params), far)


def test_no_far_face_no_specialist_run() -> None:
    first, second = _Fixed(_params([10.0, -20.0], 1.0)), _Fixed(_params([0.0, 0.0], 2.0))
    params = YawRouted(first, second).predict(_crops(2))
    assert second.seen == []
    np.testing.assert_array_equal(params, first.params)


def test_threshold_ends_and_an_empty_batch() -> None:
    yaws = [0.0, 50.0, -89.0]
    first, second = _Fixed(_params(yaws, 1.0)), _Fixed(_params(yaws, 2.0))
    np.testing.assert_array_equal(YawRouted(first, second, 0.0).predict(_crops(3)), second.params)
    np.testing.assert_array_equal(YawRouted(first, second, 180.0).predict(_crops(3)), first.params)
    assert YawRouted(first, second).predict(_crops(0)).shape == (0, 62)
    with pytest.raises(ValueError, match="min_yaw"):
        YawRouted(first, second, -1.0)


def test_with_specialist_puts_the_networks_where_asked(real_model) -> None:
    from morph3d.core.mirror import ParamMirror
    from morph3d.inference.flip import FlipAveraged
    from morph3d.inference.specialist import with_specialist

    first, second = _Fixed(_params([0.0], 1.0)), _Fixed(_params([0.0], 2.0))
    mirror = ParamMirror(real_model)
    routed = with_specialist(first, second, mirror)  # the shipped arrangement
    assert isinstance(routed, YawRouted) and routed.min_yaw == SPECIALIST_YAW
    assert isinstance(routed.predictor, FlipAveraged) and isinstance(
        routed.specialist, FlipAveraged
    )
    assert routed.predictor.predictor is first and routed.predictor.mirrored is second
    assert routed.specialist.predictor is second and routed.specialist.mirrored is second
    own = with_specialist(first, second, mirror, on_mirror=False).predictor
    assert isinstance(own, FlipAveraged) and own.mirrored is first
    paired = with_specialist(first, second, mirror, min_yaw=None)
    assert isinstance(paired, FlipAveraged) and paired.mirrored is second
    bare = with_specialist(first, second, None)  # no mirror: routing alone
    assert isinstance(bare, YawRouted) and bare.predictor is first and bare.specialist is second
    assert with_specialist(first, None, None) is first
    alone = with_specialist(first, None, mirror)
    assert isinstance(alone, FlipAveraged) and alone.mirrored is first


def test_averaged_is_the_mean_of_its_networks() -> None:
    from morph3d.inference.specialist import Averaged

    low, high = _Fixed(_params([10.0, 50.0], 1.0)), _Fixed(_params([10.0, 50.0], 4.0))
    mean = Averaged([low, high]).predict(_crops(2))
    np.testing.assert_allclose(mean[:, 12:], 2.5)
    np.testing.assert_allclose(mean[:, :12], low.params[:, :12])  # the same poses
    assert low.seen == [[0, 1]] and high.seen == [[0, 1]]  # both saw every crop
    with pytest.raises(ValueError, match="at least one"):
        Averaged([])


def test_several_specialists_share_the_turned_faces(real_model) -> None:
    from morph3d.core.mirror import ParamMirror
    from morph3d.inference.flip import FlipAveraged
    from morph3d.inference.specialist import Averaged, with_specialist

    yaws = [0.0, SPECIALIST_YAW + 20]
    first = _Fixed(_params(yaws, 1.0))
    second, third = _Fixed(_params(yaws, 2.0)), _Fixed(_params(yaws, 6.0))
    routed = with_specialist(first, [second, third], None)  # no mirror: plain routing
    assert isinstance(routed, YawRouted) and isinstance(routed.specialist, Averaged)
    params = routed.predict(_crops(2))
    np.testing.assert_allclose(params[0, 12:], 1.0)  # frontal: the first network's
    np.testing.assert_allclose(params[1, 12:], 4.0)  # turned: the specialists' mean
    assert second.seen == [[1]] and third.seen == [[1]]  # only the turned face
    mirrored = with_specialist(first, [second, third], ParamMirror(real_model))
    assert isinstance(mirrored.predictor, FlipAveraged) and mirrored.predictor.mirrored is second
    members = mirrored.specialist.predictors  # each specialist with its own mirrored crop
    assert [m.predictor for m in members] == [second, third]
    assert all(isinstance(m, FlipAveraged) and m.mirrored is m.predictor for m in members)
    assert with_specialist(first, [second], None).specialist is second  # one: as before
    assert with_specialist(first, [], None) is first


def test_a_recrop_pass_runs_the_specialist_alone() -> None:
    yaws = [45.0, -70.0]
    first, second = _Fixed(_params(yaws, 1.0)), _Fixed(_params([40.0, -50.0], 2.0))
    routed = YawRouted(first, second)
    again = recrop_predictor(routed, SPECIALIST_YAW)
    assert again is second and recrop_predictor(routed, 60.0) is second
    np.testing.assert_array_equal(again.predict(_crops(2)), second.params)
    assert first.seen == []  # the first network does not run only to hand the faces on
    # Re-cropping faces under the threshold may meet a face the first network kept.
    assert recrop_predictor(routed, 20.0) is routed and recrop_predictor(routed, 0.0) is routed
    assert recrop_predictor(first, SPECIALIST_YAW) is first  # no router: the predictor itself
