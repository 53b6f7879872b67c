"""morph3d: dense 3D face reconstruction from a single image with a 3D Morphable Model.

The package is layered; a module imports only from its own layer or lower ones:

====  =====================================================================================
0     ``errors``, ``paths``, ``annotations`` (file readers), ``_array``
1     core: ``params``, ``pose``, ``crop``, ``mesh``, ``model`` (file format + numpy
      decoder), ``decoder`` (torch), ``losses``, ``metrics``, ``marching``, ``fitting``,
      ``filters`` (the 1€ filter)
2     ``image`` (reading, cropping), ``video`` (reading, writing), ``synthetic`` (test videos
      from a photo), ``datasets`` (finding annotated faces), ``targets``
      (fitted training targets in HDF5), ``draw`` (OpenCV drawing for people to look at),
      ``augment``, ``network``, ``training``, ``predict`` (torch), ``onnx_export``,
      ``runtime`` (ONNX Runtime), ``evaluation``, ``plots``, ``effects`` (AR effects and
      their anchoring), ``eyes`` (the eyelid refiner)
3     ``detect`` (face detectors)
4     ``api`` (``reconstruct``, ``Reconstructor``), ``tracker`` (``Tracker``), ``bench``
5     ``render`` (pyrender AR: ``AR``, ``Renderer``), ``cli`` (the ``morph3d`` command)
====  =====================================================================================

``import morph3d`` is light: it loads none of torch, cv2, onnxruntime or pyrender. Names below
are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

# name -> module that defines it; imported lazily by __getattr__.
_LAZY = {
    "reconstruct": "morph3d.pipeline.reconstructor",
    "Reconstructor": "morph3d.pipeline.reconstructor",
    "Tracker": "morph3d.pipeline.tracker",
    "MorphableModel": "morph3d.core.model",
    "load_model": "morph3d.core.model",
    "ParamLayout": "morph3d.core.params",
    "Pose": "morph3d.core.pose",
    "decompose_pose": "morph3d.core.pose",
    "Decoder": "morph3d.core.decoder",
    "nme": "morph3d.core.metrics",
    "wing_loss": "morph3d.core.losses",
}

__all__ = [
    "AnnotationError",
    "Decoder",
    "ImageError",
    "ModelFormatError",
    "ModelNotFoundError",
    "Morph3DError",
    "MorphableModel",
    "NoFaceError",
    "ParamLayout",
    "Pose",
    "Reconstructor",
    "Tracker",
    "VideoError",
    "__version__",
    "decompose_pose",
    "load_model",
    "nme",
    "reconstruct",
    "wing_loss",
]

if TYPE_CHECKING:
    from morph3d.pipeline.reconstructor import Reconstructor, reconstruct
    from morph3d.core.decoder import Decoder
    from morph3d.core.losses import wing_loss
    from morph3d.core.metrics import nme
    from morph3d.core.model import MorphableModel, load_model
    from morph3d.core.params import ParamLayout
    from morph3d.core.pose import Pose, decompose_pose
    from morph3d.pipeline.tracker import Tracker


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'morph3d' has no attribute {name!r}")
