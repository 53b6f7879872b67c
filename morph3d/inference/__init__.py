"""Running the networks (layer 3): the ShuffleNetV2 regressor (:mod:`~morph3d.inference.network`,
torch) and its ONNX export, the ONNX Runtime and torch predictors behind one
:class:`Predictor` protocol, the one ONNX Runtime session factory
(:mod:`~morph3d.inference.session`), the eyelid refiner (:mod:`~morph3d.inference.eyes`), and
the mirrored-crop ensemble (:mod:`~morph3d.inference.flip`) and the large-pose specialist
(:mod:`~morph3d.inference.specialist`), and the tracker's network and refiner stages with their
arithmetic compiled by numba (:mod:`~morph3d.inference.compiled`).

torch is loaded only by the torch modules (network, export, torch_predictor); inference itself
runs on ONNX Runtime and numpy.
"""

from __future__ import annotations

from morph3d._lazy import lazy_exports

# -- exports (every name in the modules' __all__) --
__all__ = [
    "ACCURATE_JITTER",
    "BROWS_FEATURE",
    "BROW_ORDER",
    "BROW_RISE",
    "BROW_SCALE",
    "EYES_FEATURE",
    "EYE_SCALE",
    "EYE_SIZE",
    "SPECIALIST_YAW",
    "WIDTHS",
    "Averaged",
    "CompiledStage",
    "EyeRefiner",
    "Feature",
    "FlipAveraged",
    "OnnxPredictor",
    "Predictor",
    "Regressor",
    "TorchPredictor",
    "YawRouted",
    "brow_frames",
    "create_session",
    "export_eye_network",
    "export_onnx",
    "eye_crops",
    "eye_frames",
    "eye_network",
    "feature_inputs",
    "fit_eye_blendshapes",
    "fit_faces",
    "from_eye_frame",
    "load_eye_network",
    "load_regressor",
    "network_inputs",
    "physical_cores",
    "place_faces",
    "predict_boxes",
    "read_features",
    "refine_eyes",
    "single_blas_thread",
    "to_eye_frame",
    "to_input",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "CompiledStage": "compiled",
        "feature_inputs": "compiled",
        "fit_faces": "compiled",
        "network_inputs": "compiled",
        "place_faces": "compiled",
        "ACCURATE_JITTER": "predictor",
        "BROWS_FEATURE": "eyes",
        "BROW_ORDER": "eyes",
        "BROW_RISE": "eyes",
        "BROW_SCALE": "eyes",
        "EYES_FEATURE": "eyes",
        "EYE_SCALE": "eyes",
        "EYE_SIZE": "eyes",
        "Averaged": "specialist",
        "EyeRefiner": "eyes",
        "Feature": "eyes",
        "FlipAveraged": "flip",
        "SPECIALIST_YAW": "specialist",
        "YawRouted": "specialist",
        "OnnxPredictor": "onnx_predictor",
        "Predictor": "predictor",
        "Regressor": "network",
        "TorchPredictor": "torch_predictor",
        "WIDTHS": "network",
        "brow_frames": "eyes",
        "create_session": "session",
        "export_eye_network": "eye_network",
        "export_onnx": "export",
        "eye_crops": "eyes",
        "eye_frames": "eyes",
        "eye_network": "eye_network",
        "fit_eye_blendshapes": "eyes",
        "from_eye_frame": "eyes",
        "load_eye_network": "eye_network",
        "load_regressor": "torch_predictor",
        "physical_cores": "session",
        "predict_boxes": "predictor",
        "read_features": "eyes",
        "refine_eyes": "eyes",
        "single_blas_thread": "session",
        "to_eye_frame": "eyes",
        "to_input": "network",
    },
)
