"""The public API: reconstruct a dense 3D face from an image (layer 4).

>>> import morph3d                                                   # doctest: +SKIP
>>> mesh = morph3d.reconstruct("photo.jpg")   # trimesh.Trimesh        # doctest: +SKIP
>>> mesh.metadata["pose"]                     # yaw, pitch, roll (deg) # doctest: +SKIP

Pipeline: face detection (:mod:`morph3d.detection.base`), the detector box mapped to the training crop,
the network on ONNX Runtime (no torch; torch as an option), optional ``refine`` passes that
re-crop from the predicted landmarks (off by default: on the held-out 300W faces a pass moved the
detector-crop NME from 3.405 to 3.403, and on a 71-degree AFLW2000-3D face it hurt), and the
decoded mesh moved into image pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from morph3d.core.crop import CROP_SIZE, crop_box_from_landmarks, crop_to_image
from morph3d.detection.base import Backend, FaceDetector, create_detector, crop_box_from_detection
from morph3d.errors import NoFaceError
from morph3d.io.image import ChannelOrder, as_rgb, crop_image, sample_colors
from morph3d.core.model import MorphableModel, load_model
from morph3d.paths import DEFAULT_WEIGHTS, weights_path
from morph3d.core.pose import decompose_pose

__all__ = ["FaceResult", "Reconstructor", "reconstruct"]

Runtime = Literal["onnx", "torch"]


@dataclass(frozen=True)
class FaceResult:
    """One reconstructed face, all in image pixels (x right, y down, z toward the viewer).

    Attributes:
        vertices: ``(N, 3)`` mesh vertices.
        landmarks: ``(68, 3)`` landmarks (the model's landmark vertices).
        params: ``(62,)`` raw parameters (crop frame).
        pose: ``(3,)`` yaw, pitch, roll in degrees (:mod:`morph3d.core.pose` conventions).
        box: ``(4,)`` the final crop box the network saw.
        detection_box: ``(4,)`` the detector's (or the given) box.
        score: Detector score (1.0 for a given box).
    """

    vertices: np.ndarray
    landmarks: np.ndarray
    params: np.ndarray
    pose: np.ndarray
    box: np.ndarray
    detection_box: np.ndarray
    score: float


class Reconstructor:
    """Loads the model, the network and the detector once; reconstructs faces from images.

    Args:
        weights: Network file: ``.onnx`` for ONNX Runtime, ``.pt`` state dict for torch
            (default: the shipped ShuffleNetV2 x1.0 in ``assets/models``).
        model: Morphable model file (default: the cache that ``bash setup.sh`` fills).
        detector: ``"ultralight"`` (default) or ``"yunet"``.
        runtime: ``"onnx"`` (default; does not import torch) or ``"torch"``.
        refine: Passes that re-crop from the predicted landmarks and predict again (default 0,
            see the module docstring).
        threads: Inference threads (default: the physical cores).
        spin: Let ONNX Runtime's idle threads spin for the next run: lower latency, but busy
            cores; turn it off when other heavy work (rendering) shares the frame.

    Raises:
        ModelNotFoundError: a model, weights or detector file is missing (the message names
            the path and the command that creates it).
    """

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        model: str | os.PathLike[str] | None = None,
        detector: Backend = "ultralight",
        runtime: Runtime = "onnx",
        refine: int = 0,
        threads: int | None = None,
        spin: bool = True,
    ) -> None:
        self.model: MorphableModel = load_model(model)
        self.runtime = runtime
        self.refine = refine
        self.detector_backend: Backend = detector
        self._detector: FaceDetector | None = None
        self._threads = threads
        if runtime == "onnx":
            from morph3d.inference.onnx_predictor import OnnxPredictor

            default = DEFAULT_WEIGHTS.replace(".pt", ".onnx")
            self.predictor: Any = OnnxPredictor(weights_path(weights, default), threads, spin)
        elif runtime == "torch":
            import torch

            from morph3d.inference.torch_predictor import TorchPredictor

            if threads:
                torch.set_num_threads(threads)
            self.predictor = TorchPredictor(weights_path(weights), self.model)
        else:
            raise ValueError(f"runtime must be 'onnx' or 'torch', got {runtime!r}")
        self.triangles = self.model.triangles[:, ::-1].copy()  # y flips: keep normals outward
        self.n_surface = int(self.model.triangles.max()) + 1

    @property
    def detector(self) -> FaceDetector:
        """The face detector, created on first use."""
        if self._detector is None:
            options = {} if self.detector_backend == "yunet" else {"threads": self._threads}
            self._detector = create_detector(self.detector_backend, **options)
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
            boxes: ``(K, 4)`` face boxes to use instead of detection, read like detector
                boxes.
            channel_order: Channel order of a colour numpy array.

        Returns:
            One :class:`FaceResult` per face (empty when there is none).
        """
        rgb = as_rgb(image, channel_order)
        if boxes is None:
            detections = self.detector.detect(rgb)
            given = [d.box for d in detections]
            scores = [d.score for d in detections]
        else:
            given = list(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
            scores = [1.0] * len(given)
        if not given:
            return []
        order = np.argsort([-(b[2] - b[0]) * (b[3] - b[1]) for b in given], kind="stable")
        given = [given[k] for k in order]
        scores = [scores[k] for k in order]
        crop_boxes = np.stack([crop_box_from_detection(b, self.detector_backend) for b in given])
        params, landmarks, _ = self.predict(rgb, crop_boxes)
        for _ in range(self.refine):  # re-crop from the previous pass's landmarks
            crop_boxes = crop_box_from_landmarks(landmarks[..., :2])
            params, landmarks, _ = self.predict(rgb, crop_boxes)
        used = crop_boxes
        # float32 is ample for the mesh (1e-5 px) and halves the memory the decode reads.
        vertices = crop_to_image(
            self.model.decode(params.astype(np.float32))[:, : self.n_surface], used
        )
        angles = decompose_pose(params[:, :12]).angles
        return [
            FaceResult(
                vertices[k], landmarks[k], params[k], angles[k], used[k], given[k], scores[k]
            )
            for k in range(len(given))
        ]

    def predict(
        self, rgb: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the network on crop boxes of an RGB image, all in one batch.

        Args:
            rgb: ``(H, W, 3)`` uint8 RGB image.
            boxes: ``(K, 4)`` crop boxes in image pixels.

        Returns:
            Raw parameters ``(K, 62)`` in each box's crop frame, image-pixel landmarks
            ``(K, 68, 3)``, and the ``(K, 120, 120, 3)`` uint8 crops the network saw.
        """
        crops = np.stack([crop_image(rgb, b, CROP_SIZE) for b in boxes])
        params = self.predictor.predict(crops)
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


_DEFAULT: Reconstructor | None = None


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
    if _DEFAULT is None:
        _DEFAULT = Reconstructor()
    return _DEFAULT.reconstruct(image, channel_order)
