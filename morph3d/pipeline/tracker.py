"""Tracking faces through video: landmark-driven re-cropping, track management, the 1€ filter.

Per frame, every tracked face is cropped from its previous landmarks (one network batch for all
faces) and the face detector runs only when there is evidence that it is needed:

* no face is tracked;
* a track was lost on this frame: its landmarks left the frame (fewer than ``min_inside`` of them
  inside), or the new prediction disagrees with the previous one (the landmarks moved by more
  than ``max_jump`` face sizes, or the face's size changed by more than ``max_zoom``);
* the periodic check (every ``detect_interval`` seconds) for new faces; a track that no detection
  supports at ``max_misses`` checks in a row is dropped.

Drift: a track whose box has shrunk inside a detection (under 60 % of its area,
:func:`~morph3d.core.boxes.is_nested`) is restarted from that detection, a detection inside a
larger one is taken for a part of that face, and of two tracks on one face (overlapping, or one
nested in the other) only one is kept: the older, or the outer one.

A new detection that overlaps a track lost within ``memory`` seconds takes over its id, so ids
survive short losses.

Each frame's work comes in two halves. Placing (:meth:`Tracker._locate`): the network on the
crops, the eye and brow refiners, the checks and the detector, and each face's next crop from
its filtered landmarks. Finishing (:meth:`Tracker._finish`): the whole mesh decoded and filtered,
the pose and coefficients read off. :meth:`Tracker.update` does both in turn;
:meth:`Tracker.track` finishes each frame on a second thread while it places the next one, with
the same results (1.02-1.08x the frames a second on the clips here, session 13: the two halves'
numpy and Python share one interpreter lock).

The network and refiner stages' arithmetic runs compiled by numba
(:class:`~morph3d.inference.compiled.CompiledStage`, ``TrackerConfig.compiled``): the same
numbers as the numpy path to rounding (the eye and brow crops to under one grey level), at
1.2-1.5x the frames a second of the numpy path in one process here (session 22).

The morphable model's expressions barely move the eyelids, so by default the eyelids are re-read
from the image by the eye refiner (:mod:`morph3d.inference.eyes`) and the model's eye
blendshapes are fitted to them (``Reconstructor.fit_blendshapes``): the mesh and the landmarks
blink, and each face reports its coefficients.

Smoothing (:mod:`morph3d.core.filters`) runs in the image frame, on the decoded vertices (the
default, ``smooth="vertices"``: one 1€ filter per vertex, its speed in face sizes per second), or on
the parameters folded into image pixels (``"params"``, :func:`morph3d.core.crop.params_to_image`).
The defaults were chosen with ``scripts/bench_tracking.py --sweep`` (a still photo with fresh noise
and JPEG in every frame, and the same photo moving along a known path, 30 fps): vertices beat
parameters at every setting (e.g. static jitter 12 % of raw at a moving error of 1.16 vs 17 % at
1.75), cropping from the filtered landmarks beat cropping from the raw ones. ``min_cutoff=0.2,
beta=20`` keeps the static jitter at 11 % of raw with a lag of 0.2 frame and a moving error of
1.20 % of the face size (``min_cutoff=0.5, beta=40``, the setting before session 7: 17 %, 0.1
frame, 0.95; ``beta=10``: 8 %, but 0.4 frame and 1.76; a speed cut-off ``d_cutoff`` of 0.3 or 3
moved along the same trade-off). With the consistency-trained network of session 10 the clips
decided the last step: ``beta=15, d_cutoff=2`` took the d9 clip's second-difference jitter from
0.635 to 0.607 % of the face size (MediaPipe 0.619) at a lag of 0.25 frame and a moving error of
1.23 (1.19 before; ``beta=12, d_cutoff=4``: 0.594 at 1.33; ``d_cutoff=0.5``: 0.659). With
``"vertices"`` the reported ``params`` are the frame's unfiltered prediction. One setting serves
the whole face: a faster filter on the eyes and mouth (``scripts/bench_filter_regions.py``, the
8 clips) kept at most 3.5 more points of a blink's depth (95 % already) and 0.2 frame less lag,
for 9-13 % more jitter on those points and d9 above MediaPipe's.
"""

from __future__ import annotations

import itertools
import time as clock
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np

from morph3d.core.boxes import box_area, box_iou, is_nested
from morph3d.core.crop import (
    CROP_SCALE,
    crop_box_from_landmarks,
    crop_to_image,
    params_to_crop,
    params_to_image,
)
from morph3d.core.filters import FilterConfig, OneEuroFilter, SettlingAverage
from morph3d.core.metrics import landmark_box_size
from morph3d.core.mouth import mouth_coefficients
from morph3d.core.pose import decompose_pose
from morph3d.inference.eyes import fit_eye_blendshapes
from morph3d.inference.flip import FlipAveraged
from morph3d.inference.onnx_predictor import OnnxPredictor
from morph3d.inference.session import single_blas_thread
from morph3d.io.image import ChannelOrder, as_rgb
from morph3d.io.video import Frame, VideoReader
from morph3d.pipeline.reconstructor import Reconstructor, ReconstructorConfig, compiled_faces
from morph3d.pipeline.results import TrackedFace
from morph3d.progress import Progress, no_progress
from morph3d.timing import StageTimes

__all__ = [
    "TRACKING_RECONSTRUCTOR",
    "TRACKING_STAGES",
    "Tracker",
    "TrackerConfig",
    "track_video",
]

if TYPE_CHECKING:
    from morph3d.inference.compiled import CompiledStage

Smoothing = Literal["params", "vertices", "none"]

#: The stages of :attr:`Tracker.times`, in the order a frame meets them.
TRACKING_STAGES = ("network", "refiners", "detector", "placing", "finishing")

CropSource = Literal["filtered", "raw"]

#: The reconstructor a tracker makes by default: each network run on one thread, without spinning.
#: ONNX Runtime's spinning threads starve the numpy work between frames (on d9 the tracker ran at
#: 93 fps with them and 140 without), and on these two cores one thread beat two in every clip
#: measured (d3, d9, d0: 103-128 fps against 90-114, MediaPipe in the same run 164-183). The
#: mirrored crop stays on (``flip``): it is what makes the large-pose network steady (still photo
#: 0.049 % of the face size with the filter against 0.101 without it; 200-222 fps on the clips).
#: The crop and its mirror run at once, one per core (``runs`` defaults to cores over threads):
#: on d3 and d9 249-251 fps against 226-230 one after the other (300 frames, 2026-12-06).
#: No large-pose specialist: a head turning through its threshold would switch networks
#: between two frames, and the filter would show the step. Nor on the mirrored crop
#: (``specialist_mirror``): the pair of networks shook more than the network with itself
#: (still photo 0.062 against 0.049, d9 0.630 against 0.590; session 14). The detector keeps
#: the default, every core with its threads spinning within a run only: its checks took
#: 0.11-0.16 ms a frame against 0.15-0.19 on one thread on six clips, twice (once 0.33 on d10;
#: the 1280x720 d12 0.26-0.35 against 0.35-0.41; session 23).
TRACKING_RECONSTRUCTOR = ReconstructorConfig(
    spin=False, specialist_yaw=None, specialist_mirror=False
)


@dataclass(frozen=True)
class TrackerConfig:
    """How the tracker smooths and when it calls the detector.

    Attributes:
        filter: 1€ filter parameters; speeds are measured in face sizes (translation, vertices),
            scale units (the pose's rotation part) or standard deviations (shape and expression)
            per second.
        smooth: Where the filter runs: ``"params"`` (image-frame parameters; the mesh, landmarks
            and reported parameters agree), ``"vertices"`` (decoded points) or ``"none"``.
        crop_from: Which landmarks place the next frame's crop: ``"filtered"`` or ``"raw"``.
        detect_interval: Seconds between detector checks for new faces.
        max_misses: Checks in a row without a supporting detection before a track is dropped.
        max_jump: Mean landmark motion between frames, in face sizes, beyond which a
            prediction counts as a failure.
        max_zoom: Largest factor by which a face's size may change between frames.
        min_inside: Fraction of the landmarks that must lie inside the frame.
        min_similarity: Appearance similarity (normalised cross-correlation of small grey
            thumbnails of consecutive crops) below which the detector is asked at once; a
            track it does not support then is dropped.
        memory: Seconds during which a lost track's id can be taken over by a new detection.
        match_iou: Box overlap for a detection to match a track.
        max_faces: Most faces tracked at once (the largest are kept).
        refine_eyes: Re-read the eyelids with the eye refiner and fit the eye blendshapes
            (needs a reconstructor made with ``blendshapes=True``, the default).
        compiled: Run the network and refiner stages' arithmetic compiled
            (:class:`~morph3d.inference.compiled.CompiledStage`, numba) when the reconstructor
            is one it covers (ONNX Runtime, the mirrored crop on the same network, no jitter,
            the eye and brow refiners): 1.2-1.5x the frames a second here, the faces within
            0.25 pixel of the numpy path's (the eye and brow crops are sampled in floating
            point). False: the numpy path, the reference.
        identity_cutoff: A person's identity shape does not change within a track, so each
            frame's 40 shape coefficients are replaced by the track's
            :class:`~morph3d.core.filters.SettlingAverage` of them (the mean of its frames so
            far, settling into an exponential average with this cut-off in Hz) before the
            mesh is decoded and filtered; 0 keeps every frame's own. Not applied with
            ``smooth="none"``. Noise in the shape moved the jaw most: on the d3 clip the
            jaw's second-difference jitter fell from 0.70 to 0.52 % of the face size.
    """

    filter: FilterConfig = field(
        default_factory=lambda: FilterConfig(min_cutoff=0.2, beta=15.0, d_cutoff=2.0)
    )
    smooth: Smoothing = "vertices"
    crop_from: CropSource = "filtered"
    detect_interval: float = 0.5
    max_misses: int = 3
    max_jump: float = 0.3
    max_zoom: float = 1.5
    min_inside: float = 0.5
    min_similarity: float = 0.5
    memory: float = 2.0
    match_iou: float = 0.3
    max_faces: int = 8
    refine_eyes: bool = True
    compiled: bool = True
    identity_cutoff: float = 0.05

    def __post_init__(self) -> None:
        if self.identity_cutoff < 0:
            raise ValueError(f"identity_cutoff must be >= 0, got {self.identity_cutoff}")


class _Track:
    """The state of one tracked face.

    Placing the next crop (:meth:`Tracker._place`, on the caller's thread) and finishing a
    frame's face (:meth:`Tracker._finish`, which :meth:`Tracker.track` runs a frame behind on
    another thread) keep separate state: ``mesh_filter`` belongs to the second, the rest to
    the first. Each filter runs on each point alone, so ``place_filter`` on the 68 landmarks
    gives the same values as ``mesh_filter`` on their rows of the mesh.
    """

    def __init__(self, track_id: int, config: TrackerConfig) -> None:
        self.id = track_id
        # the crop-placing landmarks ("vertices") or the parameters ("params")
        self.place_filter = OneEuroFilter(config.filter, joint_axis=config.smooth == "vertices")
        self.mesh_filter = OneEuroFilter(config.filter, joint_axis=True)  # smooth="vertices"
        self.blend_filter = OneEuroFilter(config.filter)  # blendshapes, with smooth="params"
        self.identity = _identity_average(config)
        self.raw_landmarks: np.ndarray | None = None
        self.landmarks: np.ndarray | None = None
        self.signature: np.ndarray | None = None
        self.confirmed_box: np.ndarray | None = None  # where the detector last agreed
        self.last_box: np.ndarray | None = None  # the crop of its last kept frame
        self.misses = 0

    def restart(self, config: TrackerConfig) -> None:
        """Forget the placing half's history (the track is re-seeded from a detection); the
        finishing half forgets its own on that frame (:attr:`_Placed.restarted`)."""
        self.place_filter = OneEuroFilter(config.filter, joint_axis=config.smooth == "vertices")
        self.blend_filter = OneEuroFilter(config.filter)
        self.identity = _identity_average(config)
        self.signature = None

    def next_box(self, crop_from: CropSource) -> np.ndarray:
        points = self.landmarks if crop_from == "filtered" else self.raw_landmarks
        assert points is not None
        return crop_box_from_landmarks(points[:, :2])


@dataclass
class _Placed:
    """One face of one frame after the placing half: what the finishing half needs."""

    track: _Track
    params: np.ndarray  # (62,) the network's, crop frame of box
    image_params: np.ndarray  # (62,) identity-averaged (filtered with smooth="params"), image
    weights: np.ndarray  # (B,) blendshape coefficients (filtered with smooth="params")
    landmarks: np.ndarray  # (68, 3) this frame's landmarks before smoothing, image pixels
    box: np.ndarray
    size: float  # the face size the filters measure speeds in
    time: float
    restarted: bool  # a new or re-seeded track: the finishing half starts its filter again


class Tracker:
    """Track faces through consecutive video frames.

    Args:
        config: Smoothing and detection settings (:class:`TrackerConfig`).
        reconstructor: Network, model and detector to use: a
            :class:`~morph3d.pipeline.reconstructor.Reconstructor`, or the
            :class:`~morph3d.pipeline.reconstructor.ReconstructorConfig` of a new one (default:
            :data:`TRACKING_RECONSTRUCTOR`). A reconstructor with the large-pose specialist (a
            default ``Reconstructor()``) switches networks on faces turned past its threshold:
            a face sliding out of the frame then read as a jump and counted as a lost track.
        fps: Frame rate assumed when :meth:`update` gets no timestamp.

    >>> tracker = morph3d.Tracker()                                   # doctest: +SKIP
    >>> for frame in frames:                                          # doctest: +SKIP
    ...     for face in tracker.update(frame):
    ...         print(face.id, face.pose)
    """

    def __init__(
        self,
        config: TrackerConfig | None = None,
        reconstructor: Reconstructor | ReconstructorConfig | None = None,
        fps: float = 30.0,
    ) -> None:
        self.config = config or TrackerConfig()
        if not isinstance(reconstructor, Reconstructor):
            reconstructor = Reconstructor(reconstructor or TRACKING_RECONSTRUCTOR)
        self.reconstructor = reconstructor
        self.fps = float(fps)
        model = self.reconstructor.model
        self._n_surface = model.n_surface
        self._landmark_rows = model.landmark_indices
        std = model.layout.std if model.layout.std is not None else np.ones(model.layout.size)
        self._coefficient_std = np.asarray(std[12:], dtype=np.float64)
        if self.config.refine_eyes and self.reconstructor.eyes is None:
            raise ValueError("refine_eyes needs a Reconstructor made with blendshapes=True")
        use = self.config.compiled and self.config.refine_eyes
        #: The compiled network and refiner stages, or None: the numpy path.
        self.compiled: CompiledStage | None = _compiled_stage(self.reconstructor) if use else None
        self.reset()

    def warm_up(self) -> None:
        """Do now what the first frames would otherwise: make the detector (which imports ONNX
        Runtime; the networks may run on LiteRT) and load (or compile) the compiled stages'
        numba kernels (:meth:`CompiledStage.warm_up
        <morph3d.inference.compiled.CompiledStage.warm_up>`). The tracks are not touched."""
        self.reconstructor.detector  # noqa: B018  (made on first use)
        if self.compiled is not None:
            self.compiled.warm_up()

    def close(self) -> None:
        """Release the network, detector and eye-refiner sessions."""
        self.compiled = None
        self.reconstructor.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def reset(self) -> None:
        """Forget every track (ids start again from 0)."""
        self._tracks: list[_Track] = []
        # id, (last box, last box the detector confirmed), time lost
        self._lost: list[tuple[int, np.ndarray, float]] = []
        self._next_id = 0
        self._frames = 0
        self._last_check = -np.inf
        #: Detector calls so far, and tracks lost so far (by failure, not by leaving).
        self.detector_calls = 0
        self.lost_tracks = 0
        #: Appearance similarity of the last tracked crop to the one before (1 = identical).
        self.similarity = 1.0
        #: Seconds spent per stage since the last reset, and the frames counted:
        #: ``"network"`` (the crops, the regressor on them and its mirror, the landmarks),
        #: ``"refiners"`` (the eye and brow refiners, their blendshapes, the landmarks again),
        #: ``"detector"``, ``"placing"`` (the rest of placing: the checks, the tracks' matching
        #: and filters, the next crops) and ``"finishing"`` (the mesh decoded and filtered, the
        #: pose and coefficients). With :meth:`track`, finishing runs on its own thread.
        self.times = StageTimes(dict.fromkeys(TRACKING_STAGES, 0.0))

    @property
    def track_ids(self) -> list[int]:
        """Ids of the faces tracked now."""
        return [track.id for track in self._tracks]

    def update(
        self,
        frame: Any,
        timestamp: float | None = None,
        channel_order: ChannelOrder = "rgb",
    ) -> list[TrackedFace]:
        """Track the faces of the next frame.

        Args:
            frame: The frame (an RGB array unless ``channel_order="bgr"``, a path or an image).
            timestamp: Its time in seconds (default: frames so far / ``fps``).
            channel_order: Channel order of a colour numpy array.

        Returns:
            The faces of this frame, by id.
        """
        rgb, time = self._next_frame(frame, timestamp, channel_order)
        with single_blas_thread():
            return self._finish(self._locate(rgb, time))

    def track(
        self,
        frames: Iterable[Any],
        timestamps: Iterable[float] | None = None,
        channel_order: ChannelOrder = "rgb",
    ) -> Iterator[list[TrackedFace]]:
        """Track a sequence of frames, each frame's faces as :meth:`update` gives them.

        Each frame's work comes in two halves: placing (the network on the crops, the eye and
        brow refiners and their blendshapes, the checks and the detector, the crop of the next
        frame) and finishing (the whole mesh decoded and filtered, the pose and the
        coefficients). Only placing decides the next frame's crop, so the finishing of one
        frame runs on a second thread while the next frame is placed: the results are the same
        as :meth:`update`'s, frame for frame, and come one frame later.

        Args:
            frames: The frames, in order (as :meth:`update` takes them).
            timestamps: Their times in seconds (default: frames so far / ``fps``).
            channel_order: Channel order of colour numpy arrays.

        Yields:
            The faces of each frame, by id.

        Until the generator is used up or closed, numpy's BLAS stays on one thread in the whole
        process (as it does inside :meth:`update`): the finishing thread may be decoding while
        the caller works on the faces it was given.
        """
        times = iter(timestamps) if timestamps is not None else None
        with single_blas_thread(), ThreadPoolExecutor(1, "morph3d-finish") as finisher:
            pending: Future[list[TrackedFace]] | None = None
            for frame in frames:
                timestamp = None if times is None else next(times)
                rgb, time = self._next_frame(frame, timestamp, channel_order)
                placed = self._locate(rgb, time)
                if pending is not None:
                    yield pending.result()
                pending = finisher.submit(self._finish, placed)
            if pending is not None:
                yield pending.result()

    def _next_frame(
        self, frame: Any, timestamp: float | None, channel_order: ChannelOrder
    ) -> tuple[np.ndarray, float]:
        """The frame as RGB and its time; counts it."""
        if timestamp is not None and not np.isfinite(timestamp):
            # One NaN would poison every filter and crop box after it.
            raise ValueError(f"timestamp must be a finite number of seconds, got {timestamp}")
        rgb = as_rgb(frame, channel_order)
        time = self._frames / self.fps if timestamp is None else float(timestamp)
        self._frames += 1
        return rgb, time

    def _locate(self, rgb: np.ndarray, time: float) -> list[_Placed]:
        """The placing half of a frame: every track's face found and checked, the detector
        when needed, each kept face's next crop placed; the faces by track id."""
        started = clock.perf_counter()
        inside = self._stage_seconds()  # network, refiners and detector: counted where they run
        config = self.config
        height, width = rgb.shape[:2]
        faces: dict[int, _Placed] = {}

        # 1. every track: crop from its previous landmarks, one batch
        failed = False
        suspicious: set[int] = set()
        if self._tracks:
            boxes = np.stack([track.next_box(config.crop_from) for track in self._tracks])
            params, landmarks, crops, weights = self._predict(rgb, boxes)
            kept = []
            for k, track in enumerate(self._tracks):
                reason = self._failure(track, landmarks[k], width, height)
                if reason:
                    self._lose(track, boxes[k], time, reason == "failed", (width, height))
                    failed = failed or reason == "failed"
                    continue
                signature = _signature(crops[k])
                if track.signature is not None:  # None after a detector crop: not comparable
                    self.similarity = float(np.mean(signature * track.signature))
                    if self.similarity < config.min_similarity:
                        suspicious.add(track.id)
                track.signature = signature
                faces[track.id] = self._place(
                    track, params[k], landmarks[k], weights[k], boxes[k], time
                )
                kept.append(track)
            self._tracks = kept

        # 2. the detector, when there is a reason to call it
        due = time - self._last_check >= config.detect_interval
        if not self._tracks or failed or suspicious or due:
            self._last_check = time
            self.detector_calls += 1
            detecting = clock.perf_counter()
            detections = self.reconstructor.detector.detect(rgb)
            self.times.add("detector", clock.perf_counter() - detecting)
            detector = self.reconstructor.detector
            found = _outermost([detector.crop_box(d.box) for d in detections])
            current = {t.id: t.next_box(config.crop_from) for t in self._tracks}
            matched = [
                any(_matches(box, track_box, config.match_iou) for track_box in current.values())
                for box in found
            ]
            reseed: list[tuple[_Track, np.ndarray]] = []
            for track in list(self._tracks):
                box = current[track.id]
                support = [d for d in found if _matches(d, box, config.match_iou)]
                track.misses = 0 if support else track.misses + 1
                if support:
                    track.confirmed_box = box
                    shrunk = [d for d in support if is_nested(box, d)]
                    if shrunk:  # drifted into a part of the face: start again from the face
                        reseed.append((track, shrunk[0]))
                if track.misses >= config.max_misses or (track.misses and track.id in suspicious):
                    self._lose(track, box, time, True, (width, height))
                    self._tracks.remove(track)
                    faces.pop(track.id, None)
            if reseed:
                boxes = np.stack([box for _, box in reseed])
                params, landmarks, crops, weights = self._predict(rgb, boxes)
                for k, (track, box) in enumerate(reseed):
                    track.restart(config)
                    track.confirmed_box = box
                    faces[track.id] = self._place(
                        track, params[k], landmarks[k], weights[k], box, time, restarted=True
                    )
            new = [box for box, hit in zip(found, matched, strict=True) if not hit]
            room = config.max_faces - len(self._tracks)
            new = sorted(new, key=lambda b: -float(box_area(b)))[: max(room, 0)]
            if new:
                boxes = np.stack(new)
                params, landmarks, crops, weights = self._predict(rgb, boxes)
                for k in range(len(new)):
                    track = _Track(self._claim_id(boxes[k], time), config)
                    track.confirmed_box = boxes[k]
                    faces[track.id] = self._place(
                        track, params[k], landmarks[k], weights[k], boxes[k], time, True
                    )
                    self._tracks.append(track)
        self._drop_duplicates(faces)
        self._lost = [entry for entry in self._lost if time - entry[2] <= config.memory]
        placed = [faces[track.id] for track in sorted(self._tracks, key=lambda t: t.id)]
        spent = clock.perf_counter() - started
        self.times.add("placing", spent - (self._stage_seconds() - inside))
        self.times.frames += 1
        return placed

    def _stage_seconds(self) -> float:
        """Seconds counted so far in the stages that placing calls out to."""
        seconds = self.times.seconds
        return sum(seconds.get(stage, 0.0) for stage in TRACKING_STAGES[:3])

    def _finish(self, faces: list[_Placed]) -> list[TrackedFace]:
        """The finishing half of a frame: each face's mesh decoded and filtered, its pose and
        coefficients read off."""
        started = clock.perf_counter()
        finished = [self._smooth(face) for face in faces]
        self.times.add("finishing", clock.perf_counter() - started)
        return finished

    # -- internals -----------------------------------------------------------------------------

    def _blendshapes(self, weights: np.ndarray, params: np.ndarray) -> dict[str, float]:
        """The named coefficients of a face: its (filtered) eye and brow weights and, with
        ``refine_eyes``, the mouth coefficients of its expression (from the frame's parameters:
        not smoothed unless ``smooth="params"``)."""
        model = self.reconstructor.model
        values = dict(zip(model.blendshape_names, map(float, weights), strict=False))
        if weights.size and self.compiled is not None:
            values.update(self.compiled.faces.mouth_coefficients(params))
        elif weights.size:
            values.update(mouth_coefficients(model, params))
        return values

    def _predict(
        self, rgb: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The network's parameters, landmarks (with the eye blendshapes), crops and
        ``(K, B)`` blendshape coefficients (``B = 0`` without ``refine_eyes``)."""
        if self.compiled is not None:
            return self.compiled.run(rgb, boxes, self.times)
        reconstructor = self.reconstructor
        started = clock.perf_counter()
        params, landmarks, crops = reconstructor.predict(rgb, boxes)
        predicted = clock.perf_counter()
        self.times.add("network", predicted - started)
        weights = np.zeros((len(params), 0))
        eyes, brows, model = reconstructor.eyes, reconstructor.brows, reconstructor.model
        if self.config.refine_eyes and eyes is not None:  # the mouth: read off in _blendshapes
            _, weights = fit_eye_blendshapes(model, eyes, rgb, params, landmarks, boxes, brows)
            landmarks = crop_to_image(model.landmarks(params, weights), boxes)
            self.times.add("refiners", clock.perf_counter() - predicted)
        return params, landmarks, crops, weights

    def _failure(self, track: _Track, landmarks: np.ndarray, width: int, height: int) -> str:
        """``"left"``, ``"failed"`` or ``""`` for a track's new raw landmarks."""
        config = self.config
        previous = track.raw_landmarks
        assert previous is not None
        if self.compiled is not None:
            inside, jump, zoom = self.compiled.landmark_motion(landmarks, previous, width, height)
        else:
            x, y = landmarks[:, 0], landmarks[:, 1]
            inside = float(np.mean((x >= 0) & (x < width) & (y >= 0) & (y < height)))
            size = float(landmark_box_size(previous))
            new_size = float(landmark_box_size(landmarks))
            moved = float(np.linalg.norm(landmarks[:, :2] - previous[:, :2], axis=-1).mean())
            jump = moved / size if size > 0 else np.inf
            zoom = max(new_size / size, size / max(new_size, 1e-9)) if size > 0 else np.inf
        if inside < config.min_inside:
            return "left"
        if not np.isfinite(jump) or jump > config.max_jump or zoom > config.max_zoom:
            return "failed"
        return ""

    def _lose(
        self,
        track: _Track,
        box: np.ndarray,
        time: float,
        counted: bool,
        frame_size: tuple[int, int],
    ) -> None:
        """Drop a track (its id can come back within ``memory``); ``counted`` losses go into
        :attr:`lost_tracks` unless the face was leaving the frame: its box (the crop ``box``,
        or its last kept frame's, shrunk by :data:`~morph3d.core.crop.CROP_SCALE`) reaches past
        the frame's edge. A face cut by the edge can read as a turned or a shrinking one and
        end its track by a jump or by a changed, unsupported crop before its landmarks leave."""
        places = np.stack([box] if track.confirmed_box is None else [box, track.confirmed_box])
        self._lost.append((track.id, places, time))
        recent = np.stack([box] if track.last_box is None else [box, track.last_box])
        centre, half = (recent[:, :2] + recent[:, 2:]) / 2, (recent[:, 2:] - recent[:, :2]) / 2
        half = half / CROP_SCALE
        width, height = frame_size
        leaving = bool(np.any(centre - half < 0) or np.any(centre + half > [width, height]))
        self.lost_tracks += int(counted and not leaving)

    def _claim_id(self, box: np.ndarray, time: float) -> int:
        """The id of a recently lost track under ``box``, else a new id."""
        best, best_iou = None, self.config.match_iou
        for k, (_, places, _) in enumerate(self._lost):
            overlap = float(box_iou(box, places).max())
            if overlap >= best_iou:
                best, best_iou = k, overlap
        if best is not None:
            return self._lost.pop(best)[0]
        self._next_id += 1
        return self._next_id - 1

    def _drop_duplicates(self, faces: dict[int, _Placed]) -> None:
        """Two tracks on one face: keep the older (lower id) of two that overlap, and the
        outer of two where one is nested in the other."""
        keep: list[_Track] = []
        for track in sorted(self._tracks, key=lambda t: t.id):
            box = faces[track.id].box
            if any(box_iou(box, faces[k.id].box[None])[0] > 0.5 for k in keep):
                faces.pop(track.id)
                continue
            keep.append(track)
        boxes = {track.id: faces[track.id].box for track in keep}
        nested = {i for i in boxes for j in boxes if i != j and is_nested(boxes[i], boxes[j])}
        for track_id in nested:
            faces.pop(track_id)
        self._tracks = [track for track in keep if track.id not in nested]

    def _place(
        self,
        track: _Track,
        params: np.ndarray,
        landmarks: np.ndarray,
        weights: np.ndarray,
        box: np.ndarray,
        time: float,
        restarted: bool = False,
    ) -> _Placed:
        """Take one prediction into the track's placing state and place its next crop from
        the mesh's landmarks: filtered (``"vertices"``), of the filtered parameters and
        coefficients (``"params"``) or raw (``"none"``)."""
        model = self.reconstructor.model
        size = float(landmark_box_size(landmarks))
        smooth = self.config.smooth
        averaged = params
        if track.identity is not None and smooth != "none":
            averaged = params.copy()
            averaged[model.layout.shape] = track.identity(params[model.layout.shape], time)
        image_params = params_to_image(averaged, box)
        if smooth == "params":
            scale = np.empty_like(image_params)
            scale[:12] = np.linalg.norm(image_params[:3])  # rotation part: in units of the scale
            scale[[3, 7, 11]] = size  # translation: in face sizes
            scale[12:] = self._coefficient_std
            image_params = track.place_filter(image_params, time, scale)
            if weights.size:
                weights = np.clip(track.blend_filter(weights, time, np.ones_like(weights)), 0, 1)
        blend = weights if weights.size else None  # refine_eyes=False: the bare model
        # as the mesh's rows are decoded (float32), so that the two filters agree
        placing = model.landmarks(image_params.astype(np.float32), blend).astype(np.float64)
        if smooth == "vertices":
            placing = track.place_filter(placing, time, size)
        track.raw_landmarks = landmarks
        track.last_box = np.asarray(box, dtype=np.float64)
        track.landmarks = placing
        return _Placed(
            track, params, image_params, weights, landmarks, track.last_box, size, time, restarted
        )

    def _smooth(self, face: _Placed) -> TrackedFace:
        """Filter one placed face's mesh into its track's finishing state; returns the face."""
        model = self.reconstructor.model
        track, weights = face.track, face.weights
        if face.restarted:
            track.mesh_filter.reset()
        blend = weights if weights.size else None  # refine_eyes=False: the bare model
        points = model.decode(face.image_params.astype(np.float32), blend).astype(np.float64)
        if self.config.smooth == "vertices":
            points = track.mesh_filter(points, face.time, face.size)
        crop_params = params_to_crop(face.image_params, face.box)
        compiled = self.compiled
        angles = None if compiled is None else compiled.faces.pose_angles(crop_params[:12])
        if angles is None or not np.isfinite(angles).all():
            angles = decompose_pose(crop_params[:12]).angles
        return TrackedFace(
            id=track.id,
            vertices=points[: self._n_surface],
            landmarks=points[self._landmark_rows],
            raw_landmarks=face.landmarks,
            params=crop_params,
            pose=angles,
            box=face.box,
            detected=face.restarted,
            blendshapes=self._blendshapes(weights, crop_params),
        )


def _compiled_stage(reconstructor: Reconstructor) -> CompiledStage | None:
    """The compiled stages for a reconstructor they cover (see ``TrackerConfig.compiled``), or
    None (also without numba). They share the reconstructor's compiled per-face arithmetic."""
    predictor = reconstructor.predictor
    if not isinstance(predictor, FlipAveraged) or predictor.mirrored is not predictor.predictor:
        return None
    network, eyes, brows = predictor.predictor, reconstructor.eyes, reconstructor.brows
    if reconstructor.config.jitter or eyes is None or brows is None:
        return None
    if not isinstance(network, OnnxPredictor):
        return None
    faces = reconstructor.compiled or compiled_faces(reconstructor.model, eyes, brows)
    if faces is None:
        return None
    try:
        from morph3d.inference.compiled import CompiledStage
    except ImportError:  # numba missing: the numpy path
        return None
    return CompiledStage(faces, network, predictor.mirror)


def _identity_average(config: TrackerConfig) -> SettlingAverage | None:
    """A track's average of its shape coefficients (``None``: off)."""
    return SettlingAverage(config.identity_cutoff) if config.identity_cutoff > 0 else None


def _signature(crop: np.ndarray) -> np.ndarray:
    """A zero-mean, unit-variance 24x24 grey thumbnail of the middle of a crop."""
    side = crop.shape[0]
    inner = slice(side // 6, side - side // 6)
    middle = cv2.cvtColor(np.ascontiguousarray(crop[inner, inner]), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(middle, (24, 24), interpolation=cv2.INTER_AREA)
    grey: np.ndarray = small.astype(np.float32)
    grey -= grey.mean()
    return grey / max(float(grey.std()), 1e-3)


def _matches(detection: np.ndarray, track_box: np.ndarray, threshold: float) -> bool:
    """Whether a detection is of a track's face: they overlap by ``threshold`` IoU, or the
    track's box has shrunk inside the detection."""
    iou = float(box_iou(detection, track_box[None])[0])
    return iou >= threshold or is_nested(track_box, detection)


def _outermost(boxes: list[np.ndarray]) -> list[np.ndarray]:
    """The boxes that are not nested in another (a detection of a part of a face goes)."""
    return [b for i, b in enumerate(boxes) if not any(
        i != j and is_nested(b, other) for j, other in enumerate(boxes)
    )]  # fmt: skip


def track_video(
    video: VideoReader, tracker: Tracker, progress: Progress = no_progress
) -> Iterator[tuple[Frame, list[TrackedFace]]]:
    """Track every decodable frame of a video (timestamps from the file's frame rate), each
    frame's finishing overlapped with the next one's placing (:meth:`Tracker.track`)."""
    total = video.declared_frames or None
    waiting: deque[Frame] = deque()  # decoded, not yet given back with its faces

    def images() -> Iterator[np.ndarray]:
        for frame in progress(video, desc=f"tracking {video.path.name}", total=total, unit="frame"):
            waiting.append(frame)
            yield frame.image

    times = (waiting[-1].time for _ in itertools.count())  # read just after each image
    for faces in tracker.track(images(), times):
        yield waiting.popleft(), faces
