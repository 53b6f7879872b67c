"""The 62-number parameter vector of the morphable model, as one named object.

Layout (0-based slices of the last axis):

==========  =========  ===================================================================
slice       size       meaning
==========  =========  ===================================================================
``pose``    12         row-major 3x4 matrix ``P = [s*R | t]`` (scaled rotation, translation)
``shape``   40         identity coefficients (alpha)
``expr``    10         expression coefficients (beta)
==========  =========  ===================================================================

Raw parameters are what the decoders take. :meth:`ParamLayout.normalize` and
:meth:`ParamLayout.denormalize` whiten them with the statistics of the model file
(``z = (p - mean) / std``; numpy arrays or torch tensors alike): the fitter's priors and the
training targets' coefficient checks use that scale. The regressor whitens its outputs with
statistics of its own, measured on its training targets and stored with its weights
(:class:`morph3d.inference.network.Regressor`), not with these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from morph3d.core._array import like

__all__ = ["ParamLayout"]


@dataclass(frozen=True, eq=False)
class ParamLayout:
    """Where pose, shape and expression live in a parameter vector, and their statistics.

    Attributes:
        n_shape: Number of identity coefficients.
        n_expression: Number of expression coefficients.
        mean: ``(size,)`` mean of the raw parameters over the training distribution, or None.
        std: ``(size,)`` standard deviation of the raw parameters, or None.
    """

    n_shape: int = 40
    n_expression: int = 10
    mean: np.ndarray | None = field(default=None, repr=False)
    std: np.ndarray | None = field(default=None, repr=False)

    #: Number of pose numbers (a 3x4 matrix).
    n_pose = 12

    def __post_init__(self) -> None:
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None:
                array = np.asarray(value, dtype=np.float64).reshape(-1)
                if array.shape != (self.size,):
                    raise ValueError(f"{name} must have {self.size} entries, got {array.shape}")
                if not np.all(np.isfinite(array)):
                    raise ValueError(f"{name} must be finite")
                object.__setattr__(self, name, array)
        if self.std is not None and np.any(self.std <= 0):
            raise ValueError("std must be positive")

    @property
    def size(self) -> int:
        """Total number of parameters (62 for the default model)."""
        return self.n_pose + self.n_shape + self.n_expression

    @property
    def pose(self) -> slice:
        """Slice of the 3x4 pose matrix, row-major."""
        return slice(0, self.n_pose)

    @property
    def shape(self) -> slice:
        """Slice of the identity coefficients."""
        return slice(self.n_pose, self.n_pose + self.n_shape)

    @property
    def expression(self) -> slice:
        """Slice of the expression coefficients."""
        return slice(self.n_pose + self.n_shape, self.size)

    @property
    def coefficients(self) -> slice:
        """Slice of shape and expression together (the order of the decoder's basis)."""
        return slice(self.n_pose, self.size)

    def pose_matrix(self, params: Any) -> Any:
        """Return the ``(..., 3, 4)`` pose matrices of ``(..., size)`` parameters."""
        self._check(params)
        return params[..., self.pose].reshape(*params.shape[:-1], 3, 4)

    def normalize(self, params: Any) -> Any:
        """Whiten ``(..., size)`` raw parameters: ``(params - mean) / std``; numpy or torch."""
        mean, std = self._stats()
        self._check(params)
        return (params - like(params, mean)) / like(params, std)

    def denormalize(self, whitened: Any) -> Any:
        """Undo :meth:`normalize`: ``whitened * std + mean``; numpy or torch, ``(..., size)``."""
        mean, std = self._stats()
        self._check(whitened)
        return whitened * like(whitened, std) + like(whitened, mean)

    def _stats(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mean is None or self.std is None:
            raise ValueError("this ParamLayout carries no statistics (mean/std)")
        return self.mean, self.std

    def _check(self, params: Any) -> None:
        if params.shape[-1] != self.size:
            raise ValueError(
                f"expected {self.size} parameters on the last axis, got {params.shape}"
            )
