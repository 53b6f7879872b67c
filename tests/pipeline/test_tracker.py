"""The tracker on synthetic videos made from real photos: motion, loss, ids, smoothing."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from morph3d.core.boxes import is_nested
from morph3d.core.crop import crop_to_image
from morph3d.core.landmarks68 import EYELIDS as LIDS
from morph3d.core.metrics import landmark_box_size
from morph3d.evaluation.steadiness import jitter
from morph3d.io.image import read_image
from morph3d.io.synthetic import lissajous_path, moving_frames, still_frames
from morph3d.pipeline.reconstructor import Reconstructor
from morph3d.pipeline.tracker import (
    TRACKING_RECONSTRUCTOR,
    TRACKING_STAGES,
    Tracker,
    TrackerConfig,
    _Track,
)


@pytest.fixture(scope="module")
def reconstructor() -> Reconstructor:
    return Reconstructor(TRACKING_RECONSTRUCTOR)  # what a Tracker makes by default


@pytest.fixture(scope="module")
def portrait(shared_data: Path) -> np.ndarray:
    """A 320x320 head-and-shoulders picture (face about 100 px)."""
    photo = read_image(shared_data / "photos" / "obama.jpg")
    return cv2.resize(photo[80:960, 10:890], (320, 320), interpolation=cv2.INTER_AREA)


def test_follows_a_moving_face(reconstructor, portrait) -> None:
    shifts = lissajous_path(45, 30.0, amplitude=30.0, period=1.5)
    tracker = Tracker(reconstructor=reconstructor)
    tracks = [tracker.update(frame) for frame in moving_frames(portrait, shifts)]
    assert all(len(faces) == 1 and faces[0].id == 0 for faces in tracks)
    assert [faces[0].detected for faces in tracks] == [True] + [False] * 44
    assert tracker.lost_tracks == 0
    raw = np.array([faces[0].raw_landmarks for faces in tracks])
    smooth = np.array([faces[0].landmarks for faces in tracks])
    size = float(np.median(landmark_box_size(raw)))
    for points, tolerance in ((raw, 0.04), (smooth, 0.06)):
        motion = points[:, :, :2].mean(axis=1) - points[0, :, :2].mean(axis=0)
        error = np.linalg.norm(motion - (shifts - shifts[0]), axis=1)
        assert error.max() < tolerance * size, (error.max(), size)


def test_filter_steadies_a_still_face(reconstructor, portrait) -> None:
    frames = still_frames(portrait, 40)
    runs = {}
    for smooth in ("none", "vertices", "params"):
        tracker = Tracker(TrackerConfig(smooth=smooth), reconstructor)
        runs[smooth] = np.array([tracker.update(frame)[0].landmarks for frame in frames])
    raw = jitter(runs["none"])
    assert raw > 0
    assert jitter(runs["vertices"]) < 0.5 * raw and jitter(runs["params"]) < 0.5 * raw


def test_the_identity_shape_is_averaged_over_the_track(reconstructor, portrait) -> None:
    frames = still_frames(portrait, 45)
    shape = reconstructor.model.layout.shape
    spread = {}
    for cutoff in (0.0, 0.05):
        tracker = Tracker(TrackerConfig(identity_cutoff=cutoff), reconstructor)
        shapes = np.array([tracker.update(frame)[0].params[shape] for frame in frames])
        spread[cutoff] = np.std(shapes[15:], axis=0).mean()  # after the first third
    # The reported shape is the running mean of the frames' own: it hardly moves (its spread
    # was 0.16-0.20 of the frames' own over three noise seeds, compiled or numpy; with 30
    # frames 0.22-0.32, too close to the bound to tell).
    assert spread[0.05] < 0.3 * spread[0.0], spread
    with pytest.raises(ValueError, match="identity_cutoff"):
        TrackerConfig(identity_cutoff=-1.0)


def test_outputs_agree(reconstructor, portrait) -> None:
    from morph3d.core.mouth import MOUTH_NAMES

    model = reconstructor.model
    for smooth in ("none", "params"):
        tracker = Tracker(TrackerConfig(smooth=smooth), reconstructor)
        for frame in still_frames(portrait, 4):
            face = tracker.update(frame)[0]
            # the reported parameters and blendshapes decode, in the box's crop frame, to the
            # mesh and to the landmarks, eyelids included (the blendshapes carry the blinks)
            assert set(face.blendshapes) == set(model.blendshape_names) | set(MOUTH_NAMES)
            weights = model.blendshape_vector(face.blendshapes)
            decoded = crop_to_image(model.decode(face.params, weights), face.box)
            np.testing.assert_allclose(decoded[model.landmark_indices], face.landmarks, atol=1e-3)
            np.testing.assert_allclose(decoded[: len(face.vertices)], face.vertices, atol=1e-3)
            bare = crop_to_image(model.decode(face.params), face.box)[model.landmark_indices]
            moved = np.abs(bare[list(LIDS), 1] - face.landmarks[list(LIDS), 1]).max()
            assert moved > 0.05 or not any(face.blendshapes.values())
        if smooth == "none":
            np.testing.assert_allclose(face.landmarks, face.raw_landmarks, atol=1e-3)
    assert face.vertices.shape == (reconstructor.model.n_surface, 3) and face.pose.shape == (3,)


def test_a_vanishing_face_is_dropped_and_keeps_its_id(reconstructor, portrait) -> None:
    grey = np.full_like(portrait, 128)
    frames = still_frames(portrait, 5) + [grey] * 5 + still_frames(portrait, 5, seed=1)
    tracker = Tracker(reconstructor=reconstructor)
    ids = [[face.id for face in tracker.update(frame)] for frame in frames]
    assert ids == [[0]] * 5 + [[]] * 5 + [[0]] * 5
    assert tracker.lost_tracks == 1
    # with no memory of lost tracks, the returning face gets a new id
    tracker = Tracker(replace(TrackerConfig(), memory=0.05), reconstructor)
    ids = [[face.id for face in tracker.update(frame)] for frame in frames]
    assert ids[-1] == [1]


def test_a_face_that_leaves_the_frame(reconstructor, portrait) -> None:
    shifts = np.stack([np.linspace(0, 480, 30), np.zeros(30)], axis=1)
    wide = np.zeros((320, 640, 3), np.uint8)
    wide[:, 160:480] = portrait  # face in the middle; it slides out to the right
    frames = []
    for dx, _ in shifts:
        matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, 0.0]])
        frames.append(cv2.warpAffine(wide, matrix, (640, 320)))
    tracker = Tracker(reconstructor=reconstructor)
    counts = [len(tracker.update(frame)) for frame in frames]
    assert counts[0] == 1 and counts[-1] == 0
    first_gone = counts.index(0)
    assert all(c == 0 for c in counts[first_gone:]) and tracker.lost_tracks == 0


def test_two_faces_keep_their_ids(reconstructor, shared_data: Path) -> None:
    photo = read_image(shared_data / "photos" / "two_people.jpg")
    tracker = Tracker(reconstructor=reconstructor)
    left_ids = set()
    for frame in still_frames(photo, 8):
        faces = tracker.update(frame)
        assert [face.id for face in faces] == [0, 1]
        left_ids.add(min(faces, key=lambda face: face.box[0]).id)
    assert len(left_ids) == 1 and tracker.track_ids == [0, 1]
    tracker.reset()
    assert tracker.track_ids == []


@pytest.mark.unit
def test_a_non_finite_timestamp_is_refused_at_the_door() -> None:
    tracker = Tracker.__new__(Tracker)  # the check comes before any model work
    with pytest.raises(ValueError, match="finite"):
        tracker.update(np.zeros((8, 8, 3), np.uint8), float("nan"))


def _shrink(points: np.ndarray, factor: float) -> np.ndarray:
    """Landmarks pulled toward their left eye by ``factor`` (a track drifting into a face)."""
    eye = points[36:42].mean(axis=0)
    return eye + (points - eye) * factor


def _nested_pairs(faces: list) -> int:
    boxes = [face.box for face in faces]
    return sum(is_nested(a, b) for a in boxes for b in boxes if a is not b)


def test_a_track_shrinking_into_its_face_is_restarted_from_the_detector(
    reconstructor, portrait
) -> None:
    tracker = Tracker(reconstructor=reconstructor)
    predict = tracker._predict

    model = reconstructor.model

    def stuck(rgb, boxes):  # a network that trusts its crop a little too much: each face
        # comes out 5 % smaller than the crop box says, so the track shrinks into the face
        params, landmarks, crops, weights = predict(rgb, boxes)
        side = (boxes[:, 2] - boxes[:, 0]) / 1.5
        for k in range(len(params)):  # scale the face about the crop's centre (60, 60)
            scale = side[k] / float(landmark_box_size(landmarks[k])) * 0.95
            params[k, :11] *= scale
            params[k, [3, 7]] += (1 - scale) * 60.0
            decoded = model.landmarks(params[k], weights[k])
            landmarks[k] = crop_to_image(decoded.astype(np.float64), boxes[k])
        return params, landmarks, crops, weights

    tracker._predict = stuck
    frames = still_frames(portrait, 61)
    first = float(landmark_box_size(tracker.update(frames[0])[0].landmarks))
    sizes = []
    for frame in frames[1:]:
        faces = tracker.update(frame)
        assert [face.id for face in faces] == [0] and _nested_pairs(faces) == 0
        sizes.append(float(landmark_box_size(faces[0].landmarks)))
    # between detector checks (every 15 frames) the track shrinks; each check restarts it
    assert min(sizes) > 0.25 * first and max(sizes[-20:]) > 0.8 * first, (sizes[::5], first)


def test_a_second_track_inside_a_face_is_merged_away(reconstructor, shared_data: Path) -> None:
    photo = read_image(shared_data / "photos" / "two_people.jpg")
    tracker = Tracker(reconstructor=reconstructor)
    frames = still_frames(photo, 6)
    assert [face.id for face in tracker.update(frames[0])] == [0, 1]
    ghost = _Track(7, tracker.config)  # a third track, shrunk inside face 0
    ghost.landmarks = _shrink(tracker._tracks[0].landmarks, 0.35)
    ghost.raw_landmarks = ghost.landmarks.copy()
    tracker._tracks.append(ghost)
    for frame in frames[1:]:
        faces = tracker.update(frame)
        assert [face.id for face in faces] == [0, 1] and _nested_pairs(faces) == 0


def test_without_the_eye_refiner_the_bare_model_is_tracked(reconstructor, portrait) -> None:
    tracker = Tracker(TrackerConfig(refine_eyes=False, smooth="none"), reconstructor)
    for frame in still_frames(portrait, 3):
        face = tracker.update(frame)[0]
        assert face.blendshapes == {}
        decoded = crop_to_image(reconstructor.model.decode(face.params), face.box)
        np.testing.assert_allclose(decoded[: len(face.vertices)], face.vertices, atol=1e-2)


def test_track_overlaps_the_frames_and_gives_what_update_gives(reconstructor, portrait) -> None:
    shifts = lissajous_path(40, 30.0, amplitude=30.0, period=1.5)
    frames = list(moving_frames(portrait, shifts))
    frames[20:23] = [np.zeros_like(frames[0])] * 3  # the face gone for three frames, then back
    times = [k / 25.0 for k in range(len(frames))]
    for config in (TrackerConfig(), TrackerConfig(smooth="params"), TrackerConfig(smooth="none")):
        one = Tracker(config, reconstructor)
        expected = [one.update(frame, time) for frame, time in zip(frames, times, strict=True)]
        pipelined = list(Tracker(config, reconstructor).track(frames, times))
        assert len(pipelined) == len(frames)
        assert [[f.id for f in faces] for faces in pipelined] == [
            [f.id for f in faces] for faces in expected
        ]
        assert not pipelined[21] and pipelined[-1]  # lost, then found again
        for got, want in zip(pipelined, expected, strict=True):
            for a, b in zip(got, want, strict=True):
                assert a.detected == b.detected and a.blendshapes == b.blendshapes
                for name in ("vertices", "landmarks", "raw_landmarks", "params", "box"):
                    np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_the_stage_times_add_up_to_the_frames(reconstructor, portrait) -> None:
    frames = still_frames(portrait, 6)
    tracker = Tracker(reconstructor=reconstructor)
    started = time.perf_counter()
    for frame in frames:
        tracker.update(frame)
    wall = time.perf_counter() - started
    times = tracker.times
    assert times.frames == len(frames) and tuple(times.seconds) == TRACKING_STAGES
    assert all(seconds > 0 for seconds in times.seconds.values())
    assert sum(times.seconds.values()) <= wall
    # the detector ran on the first frame only: its time is one call's, not six
    assert tracker.detector_calls == 1
    tracker.reset()
    assert tracker.times.frames == 0 and set(tracker.times.seconds.values()) == {0.0}
    bare = Tracker(TrackerConfig(refine_eyes=False), reconstructor)
    list(bare.track(frames[:2]))
    assert bare.times.frames == 2 and bare.times.seconds["refiners"] == 0.0
    assert bare.times.seconds["finishing"] > 0  # on the finishing thread


def test_track_takes_paths_and_stops_early(reconstructor, shared_data: Path) -> None:
    photo = shared_data / "photos" / "obama.jpg"
    tracker = Tracker(reconstructor=reconstructor)
    stream = tracker.track([photo] * 5)
    first = next(stream)
    assert [face.id for face in first] == [0] and first[0].detected
    stream.close()  # the finishing thread is let go; the tracker goes on
    assert [face.id for face in tracker.update(photo)] == [0]
    with pytest.raises(ValueError, match="timestamp"):
        list(Tracker(reconstructor=reconstructor).track([photo], [float("nan")]))


def test_the_compiled_stages_run_by_default_and_agree_with_numpy(reconstructor, portrait) -> None:
    compiled = Tracker(reconstructor=reconstructor)
    reference = Tracker(TrackerConfig(compiled=False), reconstructor)
    assert compiled.compiled is not None and reference.compiled is None
    for frame in still_frames(portrait, 6):
        fast, slow = compiled.update(frame)[0], reference.update(frame)[0]
        # the eye and brow crops are sampled in floating point, not rounded to 8 bits
        assert np.abs(fast.landmarks - slow.landmarks).max() < 0.5
        assert max(abs(fast.blendshapes[k] - slow.blendshapes[k]) for k in fast.blendshapes) < 0.1
    assert compiled.times.seconds["refiners"] > 0 and compiled.times.seconds["network"] > 0
    # what the compiled stages do not cover runs the numpy path
    assert Tracker(TrackerConfig(refine_eyes=False), reconstructor).compiled is None
    jittered = Reconstructor(replace(TRACKING_RECONSTRUCTOR, jitter=0.04))
    assert Tracker(reconstructor=jittered).compiled is None


def test_without_numba_the_tracker_runs_the_numpy_path(
    reconstructor, portrait, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from morph3d.core import filters

    monkeypatch.setitem(sys.modules, "morph3d.inference.compiled", None)  # import fails
    monkeypatch.setitem(sys.modules, "morph3d.core.compiled", None)
    monkeypatch.setattr(filters, "_KERNEL", [])
    tracker = Tracker(reconstructor=reconstructor)
    assert tracker.compiled is None
    faces = [tracker.update(frame) for frame in still_frames(portrait, 3)]
    assert all(len(found) == 1 for found in faces) and filters._KERNEL == [None]


def test_warm_up_makes_the_detector_and_leaves_the_tracks_alone(portrait) -> None:
    tracker = Tracker()
    assert tracker.reconstructor._detector is None  # made on first use
    first = tracker.update(portrait, 0.0)
    tracker.warm_up()  # the CLI's tracking commands call it before their first frame
    assert tracker.reconstructor._detector is not None
    assert tracker.track_ids == [face.id for face in first]
    again = tracker.update(portrait, 0.04)
    assert [face.id for face in again] == [face.id for face in first]
