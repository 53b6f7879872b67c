"""morph3d: dense 3D face reconstruction from a single image with a 3D Morphable Model.

One subpackage per layer; a module imports only from its own layer or lower ones
(``tests/test_import.py`` holds every module to this):

=====  ================  ==========================================================================
layer  package           what
=====  ================  ==========================================================================
0      (top level)       ``errors``, ``paths`` (where data lives), ``files`` (atomic writes),
                         ``progress`` (progress hooks), ``timing`` (time per stage), ``_lazy``
1      ``core``          the morphable model: parameters, pose, crop frame, boxes, mesh, model
                         file and numpy decoder, torch decoder, 68-point index groups, marching,
                         fitting, losses, metrics, the 1€ filter
2      ``io``            images, videos, annotation files, datasets, synthetic test videos
3      ``inference``     networks, ONNX export, ONNX Runtime sessions, predictors, eyelid refiner
4      ``detection``     face detectors: one interface, two backends, each with its crop calibration
4      ``training``      targets, augmentation, the trainer, its curves
5      ``pipeline``      ``Reconstructor`` / ``reconstruct``, ``Tracker``, their result types
6      ``ar``            effects, the pyrender renderer, shading, compositing, the AR session
6      ``evaluation``    accuracy on datasets, speed figures, plots, drawings
7      ``cli``           the ``morph3d`` command
=====  ================  ==========================================================================

``import morph3d`` is light: it loads none of torch, cv2, onnxruntime, matplotlib or pyrender.
The names below are imported on first use.

>>> import morph3d                                                 # doctest: +SKIP
>>> mesh = morph3d.reconstruct("photo.jpg")                        # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from morph3d._lazy import lazy_exports
from morph3d.errors import (
    AnnotationError,
    ImageError,
    ModelFormatError,
    ModelNotFoundError,
    Morph3DError,
    NoFaceError,
    VideoError,
)

__version__ = "0.1.0"

__all__ = [
    "AR",
    "AnnotationError",
    "Decoder",
    "FaceResult",
    "ImageError",
    "ModelFormatError",
    "ModelNotFoundError",
    "Morph3DError",
    "MorphableModel",
    "NoFaceError",
    "ParamLayout",
    "Pose",
    "Reconstructor",
    "ReconstructorConfig",
    "TrackedFace",
    "Tracker",
    "TrackerConfig",
    "VideoError",
    "__version__",
    "accurate_config",
    "decompose_pose",
    "load_model",
    "nme",
    "reconstruct",
    "wing_loss",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "AR": "morph3d.ar.session",
        "Decoder": "morph3d.core.decoder",
        "FaceResult": "morph3d.pipeline.results",
        "MorphableModel": "morph3d.core.model",
        "ParamLayout": "morph3d.core.params",
        "Pose": "morph3d.core.pose",
        "Reconstructor": "morph3d.pipeline.reconstructor",
        "ReconstructorConfig": "morph3d.pipeline.reconstructor",
        "accurate_config": "morph3d.pipeline.reconstructor",
        "TrackedFace": "morph3d.pipeline.results",
        "Tracker": "morph3d.pipeline.tracker",
        "TrackerConfig": "morph3d.pipeline.tracker",
        "decompose_pose": "morph3d.core.pose",
        "load_model": "morph3d.core.model",
        "nme": "morph3d.core.metrics",
        "reconstruct": "morph3d.pipeline.reconstructor",
        "wing_loss": "morph3d.core.losses",
    },
)

if TYPE_CHECKING:
    from morph3d.ar.session import AR
    from morph3d.core.decoder import Decoder
    from morph3d.core.losses import wing_loss
    from morph3d.core.metrics import nme
    from morph3d.core.model import MorphableModel, load_model
    from morph3d.core.params import ParamLayout
    from morph3d.core.pose import Pose, decompose_pose
    from morph3d.pipeline.reconstructor import Reconstructor, ReconstructorConfig, reconstruct
    from morph3d.pipeline.results import FaceResult, TrackedFace
    from morph3d.pipeline.tracker import Tracker, TrackerConfig
