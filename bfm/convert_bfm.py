"""Convert the shared BFM-derived files into morph3d's own model file.

Reads (from ``--source``, else ``$MORPH3D_BFM_DIR``, else ``../shared/data/bfm`` next to the
repository) the dense 4096-point model ``dense4096/Model_PAF.pkl``, the 68-landmark model
``landmarks68/*.txt`` and the parameter statistics ``param_mean_std_62d_120x120.pkl``, and
writes one ``.npz`` (see :mod:`morph3d.core.model`) to ``--out`` (default: the model cache).

The model has the 64x64 grid's 4096 vertices, triangulated, and the 68 landmark rows appended
as vertices 4096..4163 that belong to no triangle, so that landmarks are exact rows of the
decoded vertices. The grid's expression basis is spread from the landmarks' one
(:mod:`morph3d.core.surface_fields`): the dense file's own does not move the grid.

The pickles are untrusted input: they are read once, here, with an unpickler that only
rebuilds numpy arrays and plain containers.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

import morph3d
from morph3d.core.blendshapes import BLENDSHAPE_NAMES, BLENDSHAPES_VERSION, build_blendshapes
from morph3d.core.mesh import grid_triangles, mesh_quality
from morph3d.core.model import MorphableModel, load_model
from morph3d.core.params import ParamLayout
from morph3d.core.surface_fields import SPREAD_VERSION, spread_to_surface
from morph3d.paths import SHARED_DATA, model_path

GRID_SIDE = 64
SOURCE_FILES = (
    "dense4096/Model_PAF.pkl",
    "landmarks68/u_base.txt",
    "landmarks68/w_shp_base.txt",
    "landmarks68/w_exp_base.txt",
    "param_mean_std_62d_120x120.pkl",
)
LICENSE = (
    "Derived from the Basel Face Model 2009 (University of Basel): academic, non-commercial "
    "use only."
)
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and builtin containers, refusing any other global."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a pickle")


def _read_pickle(path: Path) -> dict[str, np.ndarray]:
    data = _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict, got {type(data).__name__}")
    return {str(key): np.asarray(value) for key, value in data.items()}


def default_source() -> Path:
    """``$MORPH3D_BFM_DIR`` or ``../shared/data/bfm`` beside the repository."""
    env = os.environ.get("MORPH3D_BFM_DIR", "").strip()
    if env:
        return Path(env)
    return SHARED_DATA / "bfm"


def source_hash(source: Path) -> str:
    """SHA-256 over the source files' names and bytes."""
    digest = hashlib.sha256()
    for name in SOURCE_FILES:
        digest.update(name.encode())
        digest.update((source / name).read_bytes())
    return digest.hexdigest()


def build_model(source: Path) -> MorphableModel:
    """Assemble the default morphable model from the shared files in ``source``."""
    dense = _read_pickle(source / "dense4096" / "Model_PAF.pkl")
    stats = _read_pickle(source / "param_mean_std_62d_120x120.pkl")
    n_grid = GRID_SIDE * GRID_SIDE

    def points(flat: np.ndarray, columns: int) -> np.ndarray:
        # Source vectors interleave x, y, z per point: (3N, K) -> (N, 3, K).
        return np.asarray(flat, dtype=np.float64).reshape(-1, 3, columns)

    mean = points(dense["mu_filter"], 1)[..., 0]
    shape_basis = points(dense["w_filter"], 40)
    if mean.shape != (n_grid, 3):
        raise ValueError(f"dense model has {mean.shape[0]} points, expected {n_grid}")

    landmark_mean = points(np.loadtxt(source / "landmarks68" / "u_base.txt"), 1)[..., 0]
    landmark_shape = points(np.loadtxt(source / "landmarks68" / "w_shp_base.txt"), 40)
    landmark_expression = points(np.loadtxt(source / "landmarks68" / "w_exp_base.txt"), 10)

    # Point k of the dense model is grid column k // 64 (x, the viewer's left to right) and
    # grid row k % 64 (forehead to chin); grid[row, column] holds the vertex index.
    grid = np.arange(n_grid).reshape(GRID_SIDE, GRID_SIDE).T
    triangles = grid_triangles(grid)
    # The dense file's w_exp_filter barely moves the grid (see morph3d.core.surface_fields).
    expression_basis = spread_to_surface(mean, grid, landmark_mean, landmark_expression)
    quality = mesh_quality(mean, triangles)
    if not quality.ok:
        raise ValueError(f"the grid triangulation fails its checks: {quality}")

    layout = ParamLayout(n_shape=40, n_expression=10, mean=stats["mean"], std=stats["std"])
    everything = np.concatenate([mean, landmark_mean])
    landmark_indices = np.arange(n_grid, n_grid + 68)
    return MorphableModel(
        mean=everything.astype(np.float32),
        shape_basis=np.concatenate([shape_basis, landmark_shape]).astype(np.float32),
        expression_basis=np.concatenate([expression_basis, landmark_expression]).astype(np.float32),
        triangles=triangles,
        landmark_indices=landmark_indices,
        grid=grid,
        layout=layout,
        blendshapes=build_blendshapes(everything, landmark_indices),
        blendshape_names=BLENDSHAPE_NAMES,
        metadata={
            "name": "bfm-dense4096",
            "version": 1,
            "description": "BFM 2009 (40 shape, 10 expression) on a 64x64 grid, forehead to "
            "chin, plus the 68 landmarks as extra vertices",
            "license": LICENSE,
            "source_files": list(SOURCE_FILES),
            "source_sha256": source_hash(source),
            "morph3d_version": morph3d.__version__,
            "blendshapes_version": BLENDSHAPES_VERSION,
            "surface_expression_version": SPREAD_VERSION,
            "mesh_quality": {
                "triangles": quality.n_triangles,
                "degenerate": quality.n_degenerate,
                "flipped": quality.n_flipped,
                "outward_fraction": round(quality.outward_fraction, 4),
            },
        },
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", type=Path, help="the shared bfm/ directory")
    parser.add_argument("--source", dest="source_option", type=Path, help="same as SOURCE")
    parser.add_argument("--out", type=Path, help="output .npz (default: the model cache)")
    parser.add_argument("--force", action="store_true", help="rewrite even if up to date")
    args = parser.parse_args(argv)
    source = args.source_option or args.source or default_source()
    out = model_path(args.out)
    missing = [name for name in SOURCE_FILES if not (source / name).is_file()]
    if missing:
        print(f"convert_bfm: {source} lacks {', '.join(missing)}", file=sys.stderr)
        return 1
    digest = source_hash(source)
    if out.is_file() and not args.force:
        try:
            current = load_model(out)
            if (
                current.metadata.get("source_sha256") == digest
                and current.blendshape_names == BLENDSHAPE_NAMES
                and current.metadata.get("blendshapes_version") == BLENDSHAPES_VERSION
                and current.metadata.get("surface_expression_version") == SPREAD_VERSION
            ):
                print(f"convert_bfm: {out} is up to date (source {digest[:12]})")
                return 0
        except morph3d.Morph3DError as error:
            print(f"convert_bfm: rewriting {out}: {error}")
    print(f"convert_bfm: reading {source}")
    model = build_model(source)
    model.save(out)
    quality = model.metadata["mesh_quality"]
    print(
        f"convert_bfm: wrote {out}: {model.n_vertices} vertices, {len(model.triangles)} "
        f"triangles ({quality['degenerate']} degenerate, {quality['flipped']} flipped, "
        f"{quality['outward_fraction']:.1%} outward)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
