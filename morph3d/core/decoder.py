"""Differentiable decoder of the morphable model, a torch ``nn.Module``.

It holds the model's arrays as buffers, so ``decoder.to(device, dtype)`` moves and casts them;
it works batched, in float32 or float64, on CPU or CUDA, and every output is differentiable with
respect to the parameters. The numbers match :meth:`morph3d.core.model.MorphableModel.decode`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from morph3d.core.crop import CROP_SIZE, crop_to_image
from morph3d.core.model import MorphableModel
from morph3d.core.params import ParamLayout

__all__ = ["Decoder"]


class Decoder(nn.Module):
    """Decode raw 3DMM parameters into crop-frame vertices and landmarks.

    Args:
        model: The morphable model (see :func:`morph3d.core.model.load_model`).

    Example:
        >>> decoder = Decoder(load_model())                      # doctest: +SKIP
        >>> vertices = decoder(params)  # (B, N, 3)               # doctest: +SKIP
    """

    mean: torch.Tensor
    basis: torch.Tensor
    landmark_mean: torch.Tensor
    landmark_basis: torch.Tensor
    landmark_indices: torch.Tensor
    triangles: torch.Tensor
    blendshapes: torch.Tensor
    landmark_blendshapes: torch.Tensor

    def __init__(self, model: MorphableModel) -> None:
        super().__init__()
        self.layout: ParamLayout = model.layout
        n_coefficients = model.layout.n_shape + model.layout.n_expression
        basis = model.basis  # (3N, K+E), rows interleave x, y, z
        rows = model.landmark_indices
        landmark_basis = basis.reshape(model.n_vertices, 3, n_coefficients)[rows]
        self.register_buffer("mean", torch.from_numpy(model.mean.reshape(-1).copy()))  # (3N,)
        self.register_buffer("basis", torch.from_numpy(basis.copy()))
        self.register_buffer("landmark_mean", torch.from_numpy(model.mean[rows].reshape(-1).copy()))
        self.register_buffer(
            "landmark_basis", torch.from_numpy(landmark_basis.reshape(-1, n_coefficients).copy())
        )
        self.register_buffer("landmark_indices", torch.from_numpy(rows.astype(np.int64)))
        self.register_buffer("triangles", torch.from_numpy(model.triangles.astype(np.int64)))
        fields = model.blendshapes  # (N, 3, M): each blendshape's displacement at 1
        count = fields.shape[-1]
        self.register_buffer(
            "blendshapes", torch.from_numpy(fields.reshape(3 * model.n_vertices, count).copy())
        )
        self.register_buffer(
            "landmark_blendshapes",
            torch.from_numpy(fields[rows].reshape(3 * len(rows), count).copy()),
        )

    @property
    def n_vertices(self) -> int:
        """Number of decoded vertices ``N``."""
        return int(self.mean.shape[0]) // 3

    def forward(
        self, params: torch.Tensor, blendshapes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Decode parameters into vertices.

        Args:
            params: ``(B, 62)`` raw parameters.
            blendshapes: ``(B, M)`` coefficients in the order of the model's
                ``blendshape_names`` (``None``: all 0), as
                :meth:`~morph3d.core.model.MorphableModel.decode` takes them.

        Returns:
            ``(B, N, 3)`` vertices in the 120x120 crop frame (y up).
        """
        return self._decode(params, self.mean, self.basis, blendshapes, self.blendshapes)

    def landmarks(
        self, params: torch.Tensor, blendshapes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Decode only the landmark vertices (the same numbers as ``forward(params)[:, idx]``).

        Args:
            params: ``(B, 62)`` raw parameters.
            blendshapes: ``(B, M)`` blendshape coefficients, as for :meth:`forward`.

        Returns:
            ``(B, 68, 3)`` landmarks in the crop frame.
        """
        return self._decode(
            params, self.landmark_mean, self.landmark_basis, blendshapes, self.landmark_blendshapes
        )

    @staticmethod
    def to_image(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Map ``(B, N, 2|3)`` crop-frame points to image pixels for ``(B, 4)`` crop boxes.

        See :func:`morph3d.core.crop.crop_to_image` for the convention (y flips to point down).
        """
        return crop_to_image(points, boxes, CROP_SIZE)

    def _decode(
        self,
        params: torch.Tensor,
        mean: torch.Tensor,
        basis: torch.Tensor,
        blendshapes: torch.Tensor | None,
        fields: torch.Tensor,
    ) -> torch.Tensor:
        if params.ndim != 2 or params.shape[1] != self.layout.size:
            raise ValueError(f"params must be (B, {self.layout.size}), got {tuple(params.shape)}")
        coefficients = params[:, self.layout.coefficients].to(basis.dtype)  # (B, K+E)
        flat = nn.functional.linear(coefficients, basis, mean)  # (B, 3N)
        if blendshapes is not None and fields.shape[1]:
            if blendshapes.shape != (len(params), fields.shape[1]):
                raise ValueError(
                    f"blendshapes must be ({len(params)}, {fields.shape[1]}), "
                    f"got {tuple(blendshapes.shape)}"
                )
            flat = flat + blendshapes.to(fields.dtype) @ fields.T
        shapes = flat.view(len(params), -1, 3)
        pose = params[:, self.layout.pose].reshape(-1, 3, 4).to(basis.dtype)
        return shapes @ pose[:, :, :3].transpose(1, 2) + pose[:, None, :, 3]
