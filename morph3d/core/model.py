"""The morphable model: morph3d's own file format and a plain numpy decoder.

A model is a linear shape space over ``N`` points,

    S(alpha, beta) = mean + shape_basis @ alpha + expression_basis @ beta      # (N, 3)
    V = S @ (s R)^T + t                                                        # crop frame

with the pose ``[s R | t]`` and the coefficients taken from a parameter vector laid out by
:class:`~morph3d.core.params.ParamLayout`. Its file is an ``.npz`` archive, read with
``allow_pickle=False``:

======================  ===============  ================================================
key                     shape, dtype     content
======================  ===============  ================================================
``format_version``      (), int          :data:`FORMAT_VERSION`
``mean``                (N, 3), float32  mean shape (model units)
``shape_basis``         (N, 3, K), f32   identity basis
``expression_basis``    (N, 3, E), f32   expression basis
``triangles``           (F, 3), int32    0-based vertex indices, counter-clockwise seen
                                         from outside in the right-handed crop frame
``landmark_indices``    (68,), int64     vertices that are the 68 landmarks
``grid``                (H, W), int32    vertex index of each grid node (row 0 = top of the
                                         face, column 0 = the viewer's left), or (0, 0)
``param_mean``          (12+K+E,), f64   statistics of the raw parameters
``param_std``           (12+K+E,), f64
``metadata``            (), str          JSON: name, version, license, source_sha256, ...
``blendshapes``         (N, 3, B), f32   displacement of each blendshape at 1 (version 2)
``blendshape_names``    (B,), str        their names (:mod:`morph3d.core.blendshapes`)
======================  ===============  ================================================

Version 1 files (no blendshapes) still load, with ``B = 0``. A blendshape adds
``blendshapes @ b`` to the shape before the pose, ``b`` in [0, 1], outside the 62 parameters.

Vertices come in two parts: the **surface** (rows ``0 .. n_surface - 1``, the ones the triangles
use) and then any extra rows in no triangle — for the shipped model, the 68 landmark points,
which sit slightly off its 4096-vertex grid. :attr:`MorphableModel.n_surface` is the one place
that knows where the surface ends.

The torch decoder (:mod:`morph3d.core.decoder`) is built from the same object.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from morph3d.core.params import ParamLayout
from morph3d.errors import ModelFormatError
from morph3d.files import atomic_path
from morph3d.paths import MODEL_CREATE_COMMAND, model_path, require_file

__all__ = ["FORMAT_VERSION", "N_LANDMARKS", "READABLE_VERSIONS", "MorphableModel", "load_model"]

#: Version of the ``.npz`` layout written by :meth:`MorphableModel.save` (2: blendshapes).
FORMAT_VERSION = 2

#: Versions :meth:`MorphableModel.load` reads.
READABLE_VERSIONS = (1, 2)

#: Number of facial landmarks (the 68-point iBUG/300W scheme).
N_LANDMARKS = 68


@dataclass(frozen=True, eq=False)
class MorphableModel:
    """A linear 3D morphable model with landmarks and parameter statistics.

    Attributes:
        mean: ``(N, 3)`` mean shape.
        shape_basis: ``(N, 3, K)`` identity basis.
        expression_basis: ``(N, 3, E)`` expression basis.
        triangles: ``(F, 3)`` 0-based triangles, outward (counter-clockwise) winding.
        landmark_indices: ``(68,)`` vertex indices of the landmarks.
        grid: ``(H, W)`` vertex index of each node of the model's grid, or an empty ``(0, 0)``.
        layout: Parameter layout with the statistics of the raw parameters.
        metadata: Free-form JSON-able description (name, version, license, source hash, ...).
        blendshapes: ``(N, 3, B)`` displacement fields (``None``: none, ``B = 0``).
        blendshape_names: ``(B,)`` their names.
    """

    mean: np.ndarray
    shape_basis: np.ndarray
    expression_basis: np.ndarray
    triangles: np.ndarray
    landmark_indices: np.ndarray
    grid: np.ndarray
    layout: ParamLayout
    metadata: dict[str, Any] = field(default_factory=dict)
    blendshapes: np.ndarray = None  # type: ignore[assignment]  # None -> (N, 3, 0)
    blendshape_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.blendshapes is None:
            empty = np.zeros((self.mean.shape[0], 3, 0), dtype=np.float32)
            object.__setattr__(self, "blendshapes", empty)
        object.__setattr__(self, "blendshape_names", tuple(self.blendshape_names))
        problems = _problems(self)
        if problems:
            raise ValueError("invalid morphable model: " + "; ".join(problems))

    @property
    def n_vertices(self) -> int:
        """Number of vertices ``N`` (landmark vertices included)."""
        return int(self.mean.shape[0])

    @property
    def n_surface(self) -> int:
        """Number of surface vertices: rows ``0 .. n_surface - 1`` are the mesh, the rows after
        them (the landmark points of the shipped model) are in no triangle."""
        return int(self.triangles.max()) + 1

    @cached_property
    def basis(self) -> np.ndarray:
        """``(3N, K+E)`` shape and expression bases side by side, rows interleaving x, y, z."""
        both = np.concatenate([self.shape_basis, self.expression_basis], axis=2)
        return both.reshape(3 * self.n_vertices, -1)

    def decode(self, params: np.ndarray, blendshapes: np.ndarray | None = None) -> np.ndarray:
        """Decode raw parameters into vertices in the crop frame, with numpy.

        Args:
            params: ``(..., 62)`` raw (not whitened) parameters.
            blendshapes: ``(..., B)`` blendshape coefficients in the order of
                :attr:`blendshape_names` (``None``: all 0).

        Returns:
            ``(..., N, 3)`` vertices in the 120x120 crop frame (y up), float64 if ``params``
            is float64, else float32.
        """
        return self._decode(params, self.mean, self.basis, blendshapes, self.blendshapes)

    def landmarks(self, params: np.ndarray, blendshapes: np.ndarray | None = None) -> np.ndarray:
        """``(..., 68, 3)`` landmarks of raw parameters: the landmark rows of :meth:`decode`."""
        wide = np.asarray(params).dtype == np.float64  # its rows cast once, not on every call
        mean, basis, fields = self._landmark_rows64 if wide else self._landmark_rows
        return self._decode(params, mean, basis, blendshapes, fields)

    @property
    def landmark_blendshapes(self) -> np.ndarray:
        """``(68, 3, B)`` float64: the blendshapes' displacements of the landmark rows (cast
        once)."""
        return self._landmark_rows64[2]

    @property
    def landmark_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The arrays :meth:`landmarks` decodes, in float64 (cast once): the landmark rows of
        the mean ``(68, 3)``, of the bases ``(3*68, K+E)`` and of the blendshapes
        ``(68, 3, B)`` (e.g. for :mod:`morph3d.core.compiled`'s kernels)."""
        return self._landmark_rows64

    @cached_property
    def _landmark_rows64(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mean, basis, fields = self._landmark_rows
        return mean.astype(np.float64), basis.astype(np.float64), fields.astype(np.float64)

    @cached_property
    def _landmark_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The landmark rows of the mean, the ``(3*68, K+E)`` basis and the blendshapes."""
        rows = self.landmark_indices
        basis = self.basis.reshape(self.n_vertices, 3, -1)[rows].reshape(3 * len(rows), -1)
        return self.mean[rows], basis, self.blendshapes[rows]

    def blendshape_vector(self, values: dict[str, float]) -> np.ndarray:
        """``(B,)`` coefficients from a name -> value dict (missing ones are 0; the mouth
        coefficients, which are read off the expression and not added, are left out; other
        names the model lacks are refused), e.g. of ``FaceResult.blendshapes``."""
        from morph3d.core.mouth import MOUTH_NAMES

        unknown = sorted(set(values) - set(self.blendshape_names) - set(MOUTH_NAMES))
        if unknown:
            raise ValueError(f"the model has no blendshapes {unknown}")
        return np.array([values.get(name, 0.0) for name in self.blendshape_names])

    @cached_property
    def _basis64(self) -> np.ndarray:
        return self.basis.astype(np.float64)

    def _decode(
        self,
        params: np.ndarray,
        mean: np.ndarray,
        basis: np.ndarray,
        blend: np.ndarray | None,
        fields: np.ndarray,
    ) -> np.ndarray:
        params = np.asarray(params)
        dtype = np.float64 if params.dtype == np.float64 else np.float32
        params = params.astype(dtype, copy=False)
        if params.shape[-1] != self.layout.size:
            raise ValueError(f"expected {self.layout.size} parameters, got shape {params.shape}")
        if basis is self.basis and dtype == np.float64:
            basis = self._basis64  # cast once, not on every call
        coefficients = params[..., self.layout.coefficients].reshape(-1, basis.shape[1])
        # basis @ coefficients walks the (3N, K) basis row by row: faster than the transpose.
        offsets = (basis.astype(dtype, copy=False) @ coefficients.T).T  # (B, 3N)
        offsets = offsets.reshape(*params.shape[:-1], -1)
        shapes = mean.reshape(-1).astype(dtype, copy=False) + offsets
        shapes = shapes.reshape(*params.shape[:-1], -1, 3)  # (..., N, 3)
        if blend is not None and fields.shape[-1]:
            weights: np.ndarray = np.asarray(blend, dtype=dtype)
            if weights.shape[-1] != fields.shape[-1]:
                raise ValueError(
                    f"expected {fields.shape[-1]} blendshape coefficients, got {weights.shape}"
                )
            flat: np.ndarray = fields.astype(dtype, copy=False).reshape(-1, fields.shape[-1])
            shapes = shapes + (weights @ flat.T).reshape(*weights.shape[:-1], -1, 3)
        pose = self.layout.pose_matrix(params)  # (..., 3, 4)
        return shapes @ np.swapaxes(pose[..., :3], -1, -2) + pose[..., None, :, 3]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model to ``path`` atomically (a temporary file renamed into place)."""
        arrays: dict[str, np.ndarray] = {
            "format_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
            "mean": self.mean.astype(np.float32),
            "shape_basis": self.shape_basis.astype(np.float32),
            "expression_basis": self.expression_basis.astype(np.float32),
            "triangles": self.triangles.astype(np.int32),
            "landmark_indices": self.landmark_indices.astype(np.int64),
            "grid": self.grid.astype(np.int32),
            "param_mean": np.asarray(self.layout.mean, dtype=np.float64),
            "param_std": np.asarray(self.layout.std, dtype=np.float64),
            "metadata": np.asarray(json.dumps(self.metadata, sort_keys=True)),
            "blendshapes": self.blendshapes.astype(np.float32),
            "blendshape_names": np.asarray(self.blendshape_names, dtype=np.str_).reshape(-1),
        }
        with atomic_path(path) as temporary, open(temporary, "wb") as stream:
            np.savez(stream, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MorphableModel:
        """Read and check a model file written by :meth:`save`.

        Raises:
            ModelNotFoundError: the file does not exist.
            ModelFormatError: the file is not a valid model (with the reason).
        """
        resolved = require_file(path, MODEL_CREATE_COMMAND)
        try:
            with np.load(resolved, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
            raise ModelFormatError(resolved, f"not a readable .npz archive ({error})") from error
        return _from_arrays(resolved, arrays)


def load_model(path: str | os.PathLike[str] | None = None) -> MorphableModel:
    """Load the morphable model from ``path``, ``$MORPH3D_HOME`` or ``~/.cache/morph3d``.

    Raises:
        ModelNotFoundError: naming the path searched and the command that creates the model.
        ModelFormatError: the file is not a valid model.
    """
    return MorphableModel.load(model_path(path))


_FLOAT_KEYS = ("mean", "shape_basis", "expression_basis", "param_mean", "param_std")
_INT_KEYS = ("triangles", "landmark_indices", "grid", "format_version")


def _from_arrays(path: Path, arrays: dict[str, np.ndarray]) -> MorphableModel:
    missing = [key for key in (*_FLOAT_KEYS, *_INT_KEYS, "metadata") if key not in arrays]
    if missing:
        raise ModelFormatError(path, f"missing arrays {missing}")
    for key in _FLOAT_KEYS:
        if arrays[key].dtype.kind != "f":
            raise ModelFormatError(path, f"{key} must be floating point, got {arrays[key].dtype}")
    for key in _INT_KEYS:
        if arrays[key].dtype.kind not in "iu":
            raise ModelFormatError(path, f"{key} must be integer, got {arrays[key].dtype}")
    version = int(arrays["format_version"])
    if version not in READABLE_VERSIONS:
        raise ModelFormatError(
            path, f"format version {version}, this morph3d reads {list(READABLE_VERSIONS)}"
        )
    blendshapes = np.zeros((arrays["mean"].shape[0], 3, 0), dtype=np.float32)
    names: tuple[str, ...] = ()
    if version >= 2:
        if "blendshapes" not in arrays or "blendshape_names" not in arrays:
            raise ModelFormatError(path, "a version 2 file needs blendshapes and their names")
        if arrays["blendshapes"].dtype.kind != "f" or arrays["blendshape_names"].dtype.kind != "U":
            raise ModelFormatError(path, "blendshapes must be floats and their names strings")
        blendshapes = arrays["blendshapes"].astype(np.float32)
        names = tuple(str(name) for name in arrays["blendshape_names"].reshape(-1))
    if arrays["metadata"].dtype.kind != "U" or arrays["metadata"].shape != ():
        raise ModelFormatError(path, "metadata must be a JSON string")
    try:
        metadata = json.loads(str(arrays["metadata"]))
    except json.JSONDecodeError as error:
        raise ModelFormatError(path, f"metadata is not JSON ({error})") from error
    try:
        layout = ParamLayout(
            n_shape=int(arrays["shape_basis"].shape[-1]),
            n_expression=int(arrays["expression_basis"].shape[-1]),
            mean=arrays["param_mean"],
            std=arrays["param_std"],
        )
        return MorphableModel(
            mean=arrays["mean"].astype(np.float32),
            shape_basis=arrays["shape_basis"].astype(np.float32),
            expression_basis=arrays["expression_basis"].astype(np.float32),
            triangles=arrays["triangles"].astype(np.int64),
            landmark_indices=arrays["landmark_indices"].astype(np.int64),
            grid=arrays["grid"].astype(np.int64),
            layout=layout,
            metadata=metadata,
            blendshapes=blendshapes,
            blendshape_names=names,
        )
    except (ValueError, IndexError) as error:
        raise ModelFormatError(path, str(error)) from error


def _problems(model: MorphableModel) -> list[str]:
    """Everything wrong with a model's arrays, as readable sentences (empty if valid)."""
    problems: list[str] = []
    n = model.mean.shape[0] if model.mean.ndim == 2 else -1
    if model.mean.ndim != 2 or model.mean.shape[1] != 3:
        return [f"mean must be (N, 3), got {model.mean.shape}"]
    for name, basis, size in (
        ("shape_basis", model.shape_basis, model.layout.n_shape),
        ("expression_basis", model.expression_basis, model.layout.n_expression),
    ):
        if basis.shape != (n, 3, size):
            problems.append(f"{name} must be ({n}, 3, {size}), got {basis.shape}")
    for name in ("mean", "shape_basis", "expression_basis"):
        if not np.all(np.isfinite(getattr(model, name))):
            problems.append(f"{name} has non-finite values")
    triangles = model.triangles
    if triangles.ndim != 2 or triangles.shape[1] != 3 or len(triangles) == 0:
        problems.append(f"triangles must be (F, 3) with F > 0, got {triangles.shape}")
    elif triangles.min() < 0 or triangles.max() >= n:
        problems.append(f"triangles index outside [0, {n})")
    elif len(np.unique(triangles)) != triangles.max() + 1:
        problems.append("the triangles must use every vertex up to their largest index")
    indices = model.landmark_indices
    if indices.shape != (N_LANDMARKS,):
        problems.append(f"landmark_indices must be ({N_LANDMARKS},), got {indices.shape}")
    elif indices.min() < 0 or indices.max() >= n:
        problems.append(f"landmark_indices outside [0, {n})")
    grid = model.grid
    if grid.ndim != 2:
        problems.append(f"grid must be 2-D, got {grid.shape}")
    elif grid.size and (grid.min() < 0 or grid.max() >= n):
        problems.append(f"grid indices outside [0, {n})")
    fields = model.blendshapes
    if fields.ndim != 3 or fields.shape[:2] != (n, 3):
        problems.append(f"blendshapes must be ({n}, 3, B), got {fields.shape}")
    elif fields.shape[2] != len(model.blendshape_names):
        problems.append(f"{fields.shape[2]} blendshapes but {len(model.blendshape_names)} names")
    elif not np.all(np.isfinite(fields)):
        problems.append("blendshapes has non-finite values")
    if model.layout.mean is None or model.layout.std is None:
        problems.append("the parameter layout carries no statistics")
    return problems
