"""Reconstructing dense 3D faces from single images: the public API.

>>> import morph3d                                                   # doctest: +SKIP
>>> mesh = morph3d.reconstruct("photo.jpg")   # trimesh.Trimesh        # doctest: +SKIP
>>> mesh.metadata["pose"]                     # yaw, pitch, roll (deg) # doctest: +SKIP

Pipeline: face detection (:mod:`morph3d.detection`), the detector box mapped to the training
crop by the detector's own calibration, the network on ONNX Runtime (no torch; torch as an
option) with its mirrored crop, the large-pose specialist for the faces it finds turned far
(:mod:`morph3d.inference.specialist`), a ``refine`` pass that re-crops the turned faces from
the predicted landmarks (by default only those the first pass finds turned by 30° or more: on
the held-out 300W faces a pass for every face moved the detector-crop NME from 3.405 to 3.403,
while on the AFLW2000-3D dev faces it helped the turned ones and hurt the frontal ones), and the
decoded mesh moved into image pixels.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from morph3d.core.blendshapes import BLENDSHAPE_NAMES
from morph3d.core.boxes import box_area
from morph3d.core.crop import crop_box_from_landmarks, crop_to_image
from morph3d.core.mirror import ParamMirror
from morph3d.core.model import MorphableModel, load_model
from morph3d.core.mouth import mouth_coefficients
from morph3d.core.pose import decompose_pose, image_tilt, turned_by
from morph3d.detection import Backend, CropCalibration, FaceDetector, create_detector, detector_type
from morph3d.errors import ModelFormatError, NoFaceError, naming_extras
from morph3d.inference.eyes import BROWS_FEATURE, EyeRefiner, fit_eye_blendshapes
from morph3d.inference.litert import network_file
from morph3d.inference.predictor import ACCURATE_JITTER, Predictor, predict_boxes
from morph3d.inference.session import physical_cores, single_blas_thread, spinning_workers
from morph3d.inference.specialist import SPECIALIST_YAW, recrop_predictor, with_specialist
from morph3d.io.image import ChannelOrder, as_rgb, sample_colors
from morph3d.paths import (
    ASSETS_MODELS,
    DEFAULT_ONNX_WEIGHTS,
    DEFAULT_WEIGHTS,
    MODEL_CREATE_COMMAND,
    SPECIALIST_ONNX_WEIGHTS,
    SPECIALIST_WEIGHTS,
    WIDE_SPECIALIST_ONNX_WEIGHTS,
    home_dir,
    model_path,
    weights_path,
)
from morph3d.pipeline.results import FaceResult

if TYPE_CHECKING:
    from morph3d.inference.compiled import CompiledFaces

__all__ = [
    "Reconstructor",
    "ReconstructorConfig",
    "accurate_config",
    "compiled_faces",
    "reconstruct",
]

Runtime = Literal["onnx", "torch"]


@dataclass(frozen=True)
class ReconstructorConfig:
    """What a :class:`Reconstructor` loads and how it runs.

    Attributes:
        weights: Network file: ``.onnx`` for ONNX Runtime, ``.pt`` state dict for torch
            (default: the shipped large-pose ShuffleNetV2 x1.0 in ``assets/models``, for ONNX
            Runtime its int8 copy :data:`~morph3d.paths.DEFAULT_ONNX_WEIGHTS`).
        model: Morphable model file (default: the cache that ``bash setup.sh`` fills).
        detector: ``"ultralight"`` (default), ``"yunet"`` or ``"cascade"`` (Ultra-Light, then
            YuNet where it finds no face).
        detector_size: Ultra-Light's input ``(width, height)`` (also the cascade's first
            look); None: its default, 256x192
            (:data:`~morph3d.detection.ultralight.INPUT_SIZE`). Faces from about 10 / height
            of the image's height are found: 25 pixels of a 640x480 photo at 256x192, 156 of
            a 4000x3000 one; a larger size finds smaller faces, for more time (README, *The
            detector's input size*). YuNet looks at the whole image and takes none.
        runtime: ``"onnx"`` (default; does not import torch) or ``"torch"``.
        refine: Passes that re-crop from the predicted landmarks and predict again (default 1,
            for the faces turned by ``refine_yaw``; see the module docstring).
        refine_yaw: Re-crop only the faces that the previous pass finds turned by at least this
            many degrees of |yaw|, the specialist's 30 by default (0: every face). At or above
            the specialist's threshold the re-crop pass runs the specialist alone
            (:func:`~morph3d.inference.specialist.recrop_predictor`). The
            detector's box-to-crop calibration was measured on frontal faces, and a re-crop
            helps turned faces but not frontal ones: on the 400 AFLW2000-3D dev faces
            (cascade detector, the shipped networks) the balanced NME went 4.313 -> 4.056 with a
            re-crop of the turned faces, 4.056 with one of every face ([0°, 30°) 3.100 against
            3.156; without a re-crop 3.089).
        threads: Inference threads of each network run and of the detector (default: one
            a network run, with one run a physical core at once, and every physical core for
            the detector, its threads spinning only within a run: 0.99-1.02 ms against
            1.50-1.68 on one thread, session 23). On 2 cores a crop and its mirror ran
            1.31 ms one a core at once against 1.76 on two threads, and the two threads'
            spinning held the cores from the large-pose specialist's run after them (7.7 ms
            for both networks, 2.7 one a core; session 13).
        runs: Network runs at once on a batch of crops (ONNX Runtime; e.g. a face and its
            mirror side by side, :class:`~morph3d.inference.onnx_predictor.OnnxPredictor`):
            default the physical cores over the network's threads, so one run per core by
            default and one run on all cores with ``threads`` set to the cores.
        spin: Let ONNX Runtime's idle threads spin for the next run: lower latency, but busy
            cores; turn it off when other heavy work (rendering, tracking) shares the frame.
            (With one thread a run there are no idle threads.)
        blendshapes: Re-read each face's eyelids and brows with the eye and brow refiners
            (:mod:`morph3d.inference.eyes`) and fit the model's eye and brow blendshapes to
            them (:mod:`morph3d.core.blendshapes`), so the mesh and the landmarks blink and
            raise their brows; the coefficients are reported per face, with the mouth
            coefficients read off the expression (:mod:`morph3d.core.mouth`). Off: the bare 3DMM,
            whose eyes stay open.
        flip: Average each face's prediction with the network's prediction on the crop
            flipped left to right, mirrored back (:class:`~morph3d.inference.flip.FlipAveraged`;
            default on): more accurate, most at large yaw, for a second network run per face
            (about 1 ms on 2 cores).
        derotate: After the first pass (and any ``refine`` passes), predict each face again
            from the same crop box cut upright: turned by the head's lean in the picture
            (:func:`~morph3d.core.pose.image_tilt`) and brought back
            (:func:`~morph3d.core.crop.turn_params`). More accurate at large yaw and roll, for
            a second pass (off by default).
        specialist: The large-pose specialist network
            (:mod:`~morph3d.inference.specialist`): it predicts again the faces the first
            network finds turned by ``specialist_yaw`` or more, from the same crops, and the
            mirrored crops of the others (``specialist_mirror``).
            Default: the shipped one (:data:`~morph3d.paths.SPECIALIST_ONNX_WEIGHTS`, for torch
            :data:`~morph3d.paths.SPECIALIST_WEIGHTS`) when ``weights`` is the default too,
            none with other weights. Several files: the turned faces get the mean of their
            predictions, and the first predicts the mirrored crops
            (:func:`~morph3d.inference.specialist.with_specialist`). The shipped specialist
            with the 1.5x network (``assets/models/shufflenetv2_x1_5_lp_int8.onnx``) moved the
            400 AFLW2000-3D dev faces (GT crop) from balanced 3.717 to 3.608, and with
            ``jitter`` from 3.616 to 3.530 (session 17; chosen on held-out training faces).
        specialist_yaw: Degrees of |yaw| from which the specialist predicts; ``None``: it
            takes over no face.
        specialist_mirror: With ``flip``, the specialist predicts the mirrored crop of every
            face, the first network the crop itself: an ensemble of the two networks for the
            time of the mirror pass (default on; ``False``: the first network predicts both).
            On the 400 AFLW2000-3D dev faces (GT crop, |yaw| bins) it moved the shipped pair
            from 3.102 / 3.661 / 4.916, balanced 3.893, to 2.967 / 3.593 / 4.916, balanced
            3.825, and on the detector's crop with a re-crop from 4.134 to 4.056; 300W
            validation 3.359 both (session 14).
        jitter: Average each pass's prediction over the crop box and four copies moved by
            this fraction of its side left, right, up and down
            (:func:`~morph3d.inference.predictor.predict_boxes`): five times the network
            runs for more accuracy (0: off, the default;
            :data:`~morph3d.inference.predictor.ACCURATE_JITTER` is the amount chosen on
            held-out training faces, see the README's *Jittered crops*). With it the shipped
            pair went from balanced 3.717 to 3.616 on the 400 AFLW2000-3D dev faces (GT crop)
            and a 640x480 photo from 6.6 to 12.3 ms (session 16).
        compiled: Run each face's arithmetic after the networks compiled
            (:class:`~morph3d.inference.compiled.CompiledFaces`, numba) when numba is
            installed: the landmarks, the eye and brow crops, the blendshape fit and the
            landmarks with it, the mouth coefficients, the pose angles and the mesh. In the
            photo loop the blendshapes went from 1.4 to 0.5 ms a face and the mesh from 0.4 to
            0.15 (README, *The photo path compiled*). The eye and brow crops are sampled in
            floating point, so the coefficients differ from the numpy path's by rounding.
            Loading it costs a process 0.5-0.8 s (numba's import, then the cached machine
            code on the first photo: 0.88-1.12 s to the first face against 0.31-0.81), which
            pays off after several hundred photos: ``morph3d reconstruct``, which spends far
            longer writing each face's files, turns it off. False: the numpy path, the
            reference.
        litert: Run the shipped networks (``weights`` and ``specialist`` not given, and the
            eye and brow refiners) from their int8 LiteRT copies where ``ai-edge-litert`` is
            installed (:func:`~morph3d.inference.litert.network_file`; XNNPACK's kernels: a crop
            in 0.64-0.67 ms against ONNX Runtime's 0.81, a face's eyes in 65 us against 138,
            session 25). False: ONNX Runtime's copies.
    """

    weights: str | os.PathLike[str] | None = None
    model: str | os.PathLike[str] | None = None
    detector: Backend = "ultralight"
    detector_size: tuple[int, int] | None = None
    runtime: Runtime = "onnx"
    refine: int = 1
    refine_yaw: float = SPECIALIST_YAW
    threads: int | None = None
    runs: int | None = None
    spin: bool = True
    blendshapes: bool = True
    flip: bool = True
    derotate: bool = False
    specialist: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None
    specialist_yaw: float | None = SPECIALIST_YAW
    specialist_mirror: bool = True
    jitter: float = 0.0
    compiled: bool = True
    litert: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.jitter < 0.5:
            raise ValueError(f"jitter must be in [0, 0.5) of the crop's side, got {self.jitter}")
        if self.detector_size is not None and self.detector == "yunet":
            raise ValueError("detector_size is Ultra-Light's input size: YuNet takes none")


def accurate_config(**overrides: Any) -> ReconstructorConfig:
    """The accurate setting, by name: the default network with jittered crops
    (:data:`~morph3d.inference.predictor.ACCURATE_JITTER`) and two large-pose specialists
    averaged on the turned faces (the shipped one and the 1.5x network,
    :data:`~morph3d.paths.WIDE_SPECIALIST_ONNX_WEIGHTS`). ONNX Runtime only.

    On the 400 AFLW2000-3D dev faces (GT crop) 2.825 / 3.392 / 4.374 by |yaw| bin, balanced
    3.530 (the default 3.717), 3.712 on the detector's crop (3.904 with session 18's detector
    input, one profile's failure: README, *The detector's input size*); 300W validation 3.333; about
    twice the default's time for a photo (session 17).

    Args:
        **overrides: Other :class:`ReconstructorConfig` fields.

    Raises:
        ModelNotFoundError: a specialist file is missing.
    """
    specialists = (
        weights_path(None, SPECIALIST_ONNX_WEIGHTS),
        weights_path(None, WIDE_SPECIALIST_ONNX_WEIGHTS),
    )
    settings: dict[str, Any] = {"jitter": ACCURATE_JITTER, "specialist": specialists}
    return ReconstructorConfig(**{**settings, **overrides})


class Reconstructor:
    """Loads the model, the network and the detector once; reconstructs faces from images.

    A context manager: ``with Reconstructor() as reconstructor: ...`` releases its sessions.

    Args:
        config: What to load and how to run (:class:`ReconstructorConfig`; default settings
            when omitted).
        **overrides: Fields of :class:`ReconstructorConfig` that replace the config's, e.g.
            ``Reconstructor(weights="net.onnx")``.

    Raises:
        ModelNotFoundError: a model, weights or detector file is missing (the message names
            the path and the command that creates it).
        TypeError: an override that is no field of :class:`ReconstructorConfig`.
        ValueError: an unknown runtime, a negative ``refine``, or a ``specialist_yaw`` or
            ``refine_yaw`` outside 0-180 degrees.
    """

    def __init__(self, config: ReconstructorConfig | None = None, **overrides: Any) -> None:
        config = dataclasses.replace(config or ReconstructorConfig(), **overrides)
        self.config = config
        self.model: MorphableModel = load_model(config.model)
        self._detector: FaceDetector | None = None
        if config.runtime not in ("onnx", "torch"):
            raise ValueError(f"runtime must be 'onnx' or 'torch', got {config.runtime!r}")
        if config.refine < 0:
            raise ValueError(f"refine must be 0 or more passes, got {config.refine}")
        if not 0 <= config.refine_yaw <= 180:
            raise ValueError(f"refine_yaw must be in [0, 180] degrees, got {config.refine_yaw}")
        network = self._network(config.weights, DEFAULT_WEIGHTS, DEFAULT_ONNX_WEIGHTS)
        specialists: list[Predictor] = []
        wanted = config.specialist is not None or config.weights is None
        uses = config.specialist_yaw is not None or (config.specialist_mirror and config.flip)
        if wanted and uses:
            given = config.specialist
            paths = [given] if given is None or isinstance(given, str | os.PathLike) else given
            specialists = [
                self._network(path, SPECIALIST_WEIGHTS, SPECIALIST_ONNX_WEIGHTS) for path in paths
            ]
        mirror = ParamMirror(self.model) if config.flip else None
        self.predictor: Predictor = with_specialist(
            network, specialists, mirror, config.specialist_yaw, config.specialist_mirror
        )
        #: The predictor of the re-crop passes: the specialist, for the faces it took over.
        self.recrop_predictor: Predictor = recrop_predictor(self.predictor, config.refine_yaw)
        self.eyes: EyeRefiner | None = None
        self.brows: EyeRefiner | None = None
        if config.blendshapes:
            if "eyeBlinkLeft" not in self.model.blendshape_names:
                raise ModelFormatError(
                    model_path(config.model),
                    f"it has no eye blendshapes (made before format version 2); convert it "
                    f"again: {MODEL_CREATE_COMMAND}",
                )
            self.eyes = EyeRefiner(threads=1, litert=config.litert)
            self.brows = EyeRefiner(threads=1, feature=BROWS_FEATURE, litert=config.litert)
        #: The compiled per-face arithmetic, or None: the numpy path (``compiled``).
        self.compiled: CompiledFaces | None = None
        if config.compiled and self.eyes is not None and self.brows is not None:
            self.compiled = compiled_faces(self.model, self.eyes, self.brows)
        self.triangles = self.model.triangles[:, ::-1].copy()  # y flips: keep normals outward
        #: Where the configured detector's boxes (and boxes given to :meth:`faces`) put the crop.
        self.calibration: CropCalibration = detector_type(config.detector).calibration

    def _network(
        self, weights: str | os.PathLike[str] | None, torch_name: str, onnx_name: str
    ) -> Predictor:
        """The predictor of a network file in the configured runtime (``None``: the shipped
        file of that name for each runtime)."""
        config = self.config
        predictor: Predictor
        if config.runtime == "onnx":
            from morph3d.inference.onnx_predictor import OnnxPredictor

            if weights is None and config.litert:
                onnx_name = network_file(onnx_name, [home_dir() / "models", ASSETS_MODELS])
            threads = config.threads or 1
            predictor = OnnxPredictor(
                weights_path(weights, onnx_name),
                threads,
                config.spin,
                config.runs or max(1, physical_cores() // threads),
            )
        else:
            with naming_extras():  # torch comes with the train extra
                import torch

                from morph3d.inference.torch_predictor import TorchPredictor

            if config.threads:
                torch.set_num_threads(config.threads)
            predictor = TorchPredictor(weights_path(weights, torch_name), self.model)
        return predictor

    def close(self) -> None:
        """Release the ONNX Runtime sessions; the reconstructor cannot be used afterwards."""
        self._detector = None
        self.eyes = None
        self.brows = None
        self.compiled = None
        self.__dict__.pop("predictor", None)

    def __enter__(self) -> Reconstructor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def detector(self) -> FaceDetector:
        """The face detector, created on first use."""
        if self._detector is None:
            backend = self.config.detector
            options: dict[str, Any] = {}
            if backend != "yunet":
                options["threads"] = self.config.threads
            if self.config.detector_size is not None:
                options["input_size"] = self.config.detector_size
            self._detector = create_detector(backend, **options)
        return self._detector

    # -- faces ---------------------------------------------------------------------------------

    def faces(
        self,
        image: Any,
        boxes: np.ndarray | None = None,
        channel_order: ChannelOrder = "rgb",
    ) -> list[FaceResult]:
        """Reconstruct every face, largest first.

        Args:
            image: A path, a numpy array (RGB unless ``channel_order="bgr"``; gray and RGBA
                accepted) or a PIL image.
            boxes: ``(K, 4)`` face boxes to use instead of detection, read like boxes of the
                configured detector (its calibration places the crop).
            channel_order: Channel order of a colour numpy array.

        Returns:
            One :class:`FaceResult` per face (empty when there is none).

        Raises:
            ValueError: a given box is inverted, empty or not finite.
            ImageError: the image cannot be read or is empty.
        """
        rgb = as_rgb(image, channel_order)
        # The networks' runs at once hand over by spinning (numba, loaded with the compiled
        # path): waking a sleeping thread cost up to 0.18 ms a hand-over here. The block spans
        # the whole photo: ended after the blendshapes instead, a photo took 4-6 % longer.
        spinning = spinning_workers() if self.compiled is not None else nullcontext()
        with single_blas_thread(), spinning:
            return self._faces(rgb, boxes)

    def _faces(self, rgb: np.ndarray, boxes: np.ndarray | None) -> list[FaceResult]:
        if boxes is None:
            detections = self.detector.detect(rgb)
            given = [d.box for d in detections]
            scores = [d.score for d in detections]
        else:
            array = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            bad = ~np.isfinite(array).all(axis=1) | (array[:, 2] <= array[:, 0])
            bad |= array[:, 3] <= array[:, 1]
            if bad.any():
                raise ValueError(f"boxes must be finite x0, y0, x1, y1 with x1 > x0, y1 > y0: "
                                 f"{array[bad].tolist()}")  # fmt: skip
            given = list(array)
            scores = [1.0] * len(given)
        if not given:
            return []
        order = np.argsort(-box_area(np.stack(given)), kind="stable")
        given = [given[k] for k in order]
        scores = [scores[k] for k in order]
        crop_boxes = np.stack([self.calibration.crop_box(b) for b in given])
        params, landmarks, _ = self.predict(rgb, crop_boxes)
        for _ in range(self.config.refine):  # re-crop from the previous pass's landmarks
            again = turned_by(params[:, :12], self.config.refine_yaw)
            if not again.any():
                break
            crop_boxes[again] = crop_box_from_landmarks(landmarks[again, :, :2])
            redo = self.predict(rgb, crop_boxes[again], predictor=self.recrop_predictor)
            params[again], landmarks[again], _ = redo
        if self.config.derotate:
            params, landmarks, _ = self.predict(rgb, crop_boxes, -image_tilt(params[:, :12]))
        used = crop_boxes
        values, weights, fitted = self.fit_blendshapes(rgb, params, landmarks, used)
        landmarks = landmarks if fitted is None else fitted
        if self.compiled is not None and weights is not None:
            vertices = self.compiled.meshes(params, weights, used)
            angles = np.array([self.compiled.pose_angles(face[:12]) for face in params])
        else:
            # float32 is ample for the mesh (1e-5 px) and halves the memory the decode reads.
            decoded = self.model.decode(params.astype(np.float32), weights)
            vertices = crop_to_image(decoded[:, : self.model.n_surface], used)
            angles = decompose_pose(params[:, :12]).angles
        return [
            FaceResult(
                vertices[k], landmarks[k], params[k], angles[k], used[k], given[k], scores[k],
                values[k],
            )
            for k in range(len(given))
        ]  # fmt: skip

    def fit_blendshapes(
        self,
        rgb: np.ndarray,
        params: np.ndarray,
        landmarks: np.ndarray,
        boxes: np.ndarray,
        mouth: bool = True,
    ) -> tuple[list[dict[str, float]], np.ndarray | None, np.ndarray | None]:
        """The eye and brow blendshapes of predicted faces, fitted to their re-read eyelids
        and brows, and the mouth coefficients of their expression
        (:func:`~morph3d.core.mouth.mouth_coefficients`).

        Args:
            rgb: The image.
            params: ``(K, 62)`` raw parameters in the crop frames of ``boxes``.
            landmarks: ``(K, 68, 3)`` their image-pixel landmarks (the eye crops' placement).
            boxes: ``(K, 4)`` crop boxes.
            mouth: Add the mouth coefficients (the tracker reads them off its own
                parameters later).

        Returns:
            Per face the coefficients by name, the ``(K, B)`` array for
            :meth:`~morph3d.core.model.MorphableModel.decode`, and the ``(K, 68, 3)`` image
            landmarks with them; ``([{}, ...], None, None)`` with ``blendshapes=False``.
        """
        if self.eyes is None:
            return [{} for _ in params], None, None
        if self.compiled is None or not len(params):
            values, weights = fit_eye_blendshapes(
                self.model, self.eyes, rgb, params, landmarks, boxes, self.brows
            )
            fitted = crop_to_image(self.model.landmarks(params, weights), boxes)
            for value, face in zip(values, params, strict=True) if mouth else ():
                value.update(mouth_coefficients(self.model, face))  # the expression's, read off
            return values, weights, fitted
        weights, fitted = self.compiled.fit(rgb, params, boxes, landmarks)
        names = self.model.blendshape_names
        values = [dict(zip(names, map(float, row), strict=True)) for row in weights]
        for value, face in zip(values, params, strict=True) if mouth else ():
            value.update(self.compiled.mouth_coefficients(face))
        return values, weights, fitted

    def predict(
        self,
        rgb: np.ndarray,
        boxes: np.ndarray,
        angles: np.ndarray | None = None,
        predictor: Predictor | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the network on crop boxes of an RGB image, all in one batch.

        Args:
            rgb: ``(H, W, 3)`` uint8 RGB image.
            boxes: ``(K, 4)`` crop boxes in image pixels.
            angles: ``(K,)`` degrees to turn each crop (counterclockwise, as seen), or None.
            predictor: The predictor to run (default :attr:`predictor`).

        Returns:
            Raw parameters ``(K, 62)`` in each box's (unturned) crop frame, image-pixel
            landmarks ``(K, 68, 3)``, and the ``(K, 120, 120, 3)`` uint8 crops the network saw.
        """
        params, crops = predict_boxes(
            predictor or self.predictor, [rgb] * len(boxes), boxes, angles=angles,
            jitter=self.config.jitter,
        )  # fmt: skip
        if self.compiled is not None and len(params):
            return params, self.compiled.landmarks(params, boxes), crops
        return params, crop_to_image(self.model.landmarks(params), boxes), crops

    def mesh(self, image: Any, face: FaceResult) -> Any:
        """A ``trimesh.Trimesh`` of a face, coloured from the image, with metadata."""
        import trimesh

        rgb = as_rgb(image)
        colors = sample_colors(rgb, face.vertices)
        return trimesh.Trimesh(
            vertices=face.vertices,
            faces=self.triangles,
            vertex_colors=np.concatenate([colors, np.full((len(colors), 1), 255, np.uint8)], 1),
            process=False,
            metadata={
                "landmarks": face.landmarks,
                "pose": face.pose,
                "params": face.params,
                "box": face.box,
                "detection_box": face.detection_box,
                "score": face.score,
            },
        )

    def reconstruct(self, image: Any, channel_order: ChannelOrder = "rgb") -> Any:
        """The ``trimesh.Trimesh`` of the most prominent (largest) face.

        Raises:
            NoFaceError: no face was found.
            ImageError: the image cannot be read or is empty.
        """
        rgb = as_rgb(image, channel_order)
        faces = self.faces(rgb)
        if not faces:
            raise NoFaceError("no face found in the image")
        return self.mesh(rgb, faces[0])

    def reconstruct_all(self, image: Any, channel_order: ChannelOrder = "rgb") -> list[Any]:
        """A ``trimesh.Trimesh`` per face, largest first (empty when there is none)."""
        rgb = as_rgb(image, channel_order)
        return [self.mesh(rgb, face) for face in self.faces(rgb)]


def compiled_faces(
    model: MorphableModel, eyes: EyeRefiner, brows: EyeRefiner
) -> CompiledFaces | None:
    """The compiled per-face arithmetic of a model it covers (its blendshapes those of
    :data:`~morph3d.core.blendshapes.BLENDSHAPE_NAMES`), or None (also without numba)."""
    if tuple(model.blendshape_names) != BLENDSHAPE_NAMES:
        return None
    try:
        from morph3d.inference.compiled import CompiledFaces
    except ImportError:  # numba missing: the numpy path
        return None
    return CompiledFaces(model, eyes, brows)


_DEFAULT: Reconstructor | None = None
_DEFAULT_LOCK = threading.Lock()


def reconstruct(image: Any, channel_order: ChannelOrder = "rgb") -> Any:
    """Reconstruct the most prominent face of an image as a ``trimesh.Trimesh``.

    A shared :class:`Reconstructor` with the default settings is created on the first call.
    Vertices are in image pixels (x right, y down, z toward the viewer, same scale);
    ``mesh.metadata`` holds ``landmarks`` (68x3), ``pose`` (yaw, pitch, roll in degrees),
    ``params`` (62), ``box`` and ``score``.

    Raises:
        NoFaceError: no face was found.
        ImageError: the image cannot be read or is empty.
        ModelNotFoundError: a model file is missing.
    """
    global _DEFAULT
    with _DEFAULT_LOCK:  # threads calling at once share one reconstructor
        if _DEFAULT is None:
            _DEFAULT = Reconstructor()
    return _DEFAULT.reconstruct(image, channel_order)
