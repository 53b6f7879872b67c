"""Making and using training data (layer 4): fitted targets in HDF5
(:mod:`~morph3d.training.targets`), augmentation, the trainer with resumable checkpoints, and its
curves. torch is loaded by the trainer only.
"""

from __future__ import annotations

from morph3d._lazy import lazy_exports

# -- exports (every name in the modules' __all__) --
__all__ = [
    "FLAG_AT_BOUND",
    "FLAG_OUTSIDE",
    "FLAG_POOR_FIT",
    "PATCH",
    "STORED_SIZE",
    "AugmentConfig",
    "Similarity",
    "Targets",
    "TrainConfig",
    "Trainer",
    "augment",
    "build_targets",
    "centre_crop",
    "evaluate_eyes",
    "export_weights",
    "eye_batches",
    "eye_patches",
    "eye_sample",
    "model_card",
    "network_name",
    "photometric",
    "plot_training_curves",
    "read_targets",
    "target_statistics",
    "train_eyes",
    "warp_crop",
    "warp_landmarks",
    "warp_pose",
    "write_targets",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "AugmentConfig": "augment",
        "FLAG_AT_BOUND": "targets",
        "FLAG_OUTSIDE": "targets",
        "FLAG_POOR_FIT": "targets",
        "PATCH": "eyes",
        "STORED_SIZE": "targets",
        "Similarity": "augment",
        "Targets": "targets",
        "TrainConfig": "trainer",
        "Trainer": "trainer",
        "augment": "augment",
        "build_targets": "targets",
        "centre_crop": "augment",
        "evaluate_eyes": "eyes",
        "export_weights": "model_card",
        "eye_batches": "eyes",
        "eye_patches": "eyes",
        "eye_sample": "eyes",
        "model_card": "model_card",
        "network_name": "model_card",
        "photometric": "augment",
        "plot_training_curves": "curves",
        "read_targets": "targets",
        "target_statistics": "trainer",
        "train_eyes": "eyes",
        "warp_crop": "augment",
        "warp_landmarks": "augment",
        "warp_pose": "augment",
        "write_targets": "targets",
    },
)
