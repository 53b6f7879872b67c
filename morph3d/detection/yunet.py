"""OpenCV's YuNet face detector through ``cv2.FaceDetectorYN``, with 5 keypoints."""

from __future__ import annotations

import os
import threading

import cv2
import numpy as np

from morph3d.detection.base import CropCalibration, Detection, check_image
from morph3d.errors import ModelFormatError
from morph3d.paths import detector_path

__all__ = ["YUNET_MIN_SIDE", "YuNetDetector"]

YUNET_MIN_SIDE = 64
"""Images smaller than this (pixels per side) are padded before YuNet sees them."""


class YuNetDetector:
    """OpenCV's YuNet face detector (``cv2.FaceDetectorYN``) with 5 keypoints per face.

    Args:
        path: Model file (default: ``face_detection_yunet.onnx`` in the detectors cache).
        score_threshold: Minimum score.
        iou_threshold: Non-maximum suppression overlap.

    Raises:
        ModelNotFoundError: the weights are missing (the message names the setup command).
        ModelFormatError: the file is not a YuNet model.
    """

    #: Medians over the 1,250 annotated 300W and dlib faces (median absolute deviations 0.019,
    #: 0.018, 0.046), measured by ``scripts/measure_detector_crop.py``.
    calibration = CropCalibration(dx=-0.0017, dy=0.1179, k=1.3785)

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        score_threshold: float = 0.7,
        iou_threshold: float = 0.3,
    ) -> None:
        model = detector_path("face_detection_yunet.onnx", path)
        # One cv2.FaceDetectorYN must not run in two threads at once (wrong results, crashes).
        self._lock = threading.Lock()
        try:
            self.detector = cv2.FaceDetectorYN.create(
                str(model), "", (320, 320), score_threshold, iou_threshold, 5000
            )
        except cv2.error as error:
            raise ModelFormatError(model, "OpenCV cannot load it as YuNet") from error

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in an ``(H, W, 3)`` uint8 RGB image, best first."""
        image = check_image(image)
        height, width = image.shape[:2]
        # YuNet's strides need a few cells per side: on tiny inputs OpenCV returns garbage
        # (non-finite boxes), so pad small images with black up to YUNET_MIN_SIDE.
        padded = cv2.copyMakeBorder(
            image,
            0,
            max(YUNET_MIN_SIDE - height, 0),
            0,
            max(YUNET_MIN_SIDE - width, 0),
            cv2.BORDER_CONSTANT,
            value=(0, 0, 0),
        )
        bgr = cv2.cvtColor(padded, cv2.COLOR_RGB2BGR)
        with self._lock:
            self.detector.setInputSize((padded.shape[1], padded.shape[0]))
            _, faces = self.detector.detect(bgr)
        if faces is None:
            return []
        finite = np.isfinite(faces).all(axis=1)
        centre_x = faces[:, 0] + faces[:, 2] / 2
        centre_y = faces[:, 1] + faces[:, 3] / 2
        inside = (centre_x >= 0) & (centre_x < width) & (centre_y >= 0) & (centre_y < height)
        faces = faces[finite & inside & (faces[:, 2] > 0) & (faces[:, 3] > 0)]
        detections = []
        for face in faces[np.argsort(-faces[:, 14])]:
            x, y, w, h = (float(v) for v in face[:4])
            detections.append(
                Detection(
                    box=np.array([x, y, x + w, y + h]),
                    score=float(face[14]),
                    keypoints=face[4:14].reshape(5, 2).astype(np.float64),
                )
            )
        return detections

    def crop_box(self, box: np.ndarray) -> np.ndarray:
        """The network's crop box for one of this detector's boxes."""
        return self.calibration.crop_box(box)
