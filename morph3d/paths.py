"""Where morph3d keeps its data.

Model data is found from an explicit argument first, then the ``MORPH3D_HOME`` environment
variable, then ``~/.cache/morph3d``. Nothing here creates directories or reads files.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from morph3d.errors import ModelNotFoundError

__all__ = [
    "ASSETS",
    "ASSETS_EFFECTS",
    "ASSETS_MODELS",
    "DEFAULT_MODEL_FILENAME",
    "DEFAULT_ONNX_WEIGHTS",
    "DEFAULT_WEIGHTS",
    "MODEL_CREATE_COMMAND",
    "SHARED_DATA",
    "SPECIALIST_ONNX_WEIGHTS",
    "SPECIALIST_WEIGHTS",
    "WIDE_SPECIALIST_ONNX_WEIGHTS",
    "detector_path",
    "detectors_dir",
    "home_dir",
    "model_path",
    "require_file",
    "weights_path",
]

#: File name of the default trained network (ShuffleNetV2 x1.0 trained with the large-pose
#: data: 300W fits, their profiled views and the AFLW 21-point faces): its torch weights.
#: ``shufflenetv2_x1.pt`` beside it is the earlier network trained on the 300W fits alone.
DEFAULT_WEIGHTS = "shufflenetv2_x1_lp.pt"

#: The default network as ONNX Runtime runs it: the int8 copy of :data:`DEFAULT_WEIGHTS`
#: (``morph3d export --int8``; ``shufflenetv2_x1_lp.onnx`` beside it is the float one).
DEFAULT_ONNX_WEIGHTS = "shufflenetv2_x1_lp_int8.onnx"

#: The large-pose specialist (:mod:`morph3d.inference.specialist`): the same ShuffleNetV2 x1.0
#: fine-tuned further on the large-pose data, which the default network's limits on 300W
#: validation and steadiness kept from shipping as the default; its torch weights.
SPECIALIST_WEIGHTS = "shufflenetv2_x1_profile.pt"

#: The large-pose specialist as ONNX Runtime runs it: the int8 copy of
#: :data:`SPECIALIST_WEIGHTS`.
SPECIALIST_ONNX_WEIGHTS = "shufflenetv2_x1_profile_int8.onnx"

#: The second large-pose specialist of the accurate setting
#: (:func:`morph3d.pipeline.reconstructor.accurate_config`): ShuffleNetV2 x1.5 trained on the
#: large-pose data, shipped as an int8 ONNX file only (no torch weights).
WIDE_SPECIALIST_ONNX_WEIGHTS = "shufflenetv2_x1_5_lp_int8.onnx"

#: The repository checkout this package lives in, for an editable install (in an installed
#: wheel this is site-packages and nothing below relies on it).
REPOSITORY = Path(__file__).resolve().parents[1]


def _assets_dir() -> Path:
    # An installed wheel carries the repository's assets/ as the package morph3d.assets
    # (pyproject.toml maps it at build time); a checkout has them at its top level.
    packaged = importlib.resources.files("morph3d") / "assets"
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return REPOSITORY / "assets"


#: What the project ships with the code: the ONNX networks and the AR effects.
ASSETS = _assets_dir()

#: The shipped networks (``.onnx`` with their model cards; ``.pt`` only in a checkout).
ASSETS_MODELS = ASSETS / "models"

#: The shipped AR effects (``<name>.glb`` and ``<name>.json``).
ASSETS_EFFECTS = ASSETS / "ar"

#: The shared data folder beside the checkout (``../shared/data``), the default source of the
#: tools that convert data into the cache.
SHARED_DATA = REPOSITORY.parent / "shared" / "data"

WEIGHTS_CREATE_COMMAND = (
    "python scripts/train.py --data TARGETS.h5 --run RUN --export assets/models "
    "(the repository ships assets/models/)"
)

#: File name of the default morphable model inside the home directory.
DEFAULT_MODEL_FILENAME = "bfm_dense4096.npz"

#: The command that (re)creates the default model in the cache.
MODEL_CREATE_COMMAND = "bash setup.sh  (or: python bfm/convert_bfm.py --source ../shared/data/bfm)"


def home_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """Return morph3d's data directory.

    Args:
        home: An explicit directory; wins over everything else.

    Returns:
        ``home`` if given, else ``$MORPH3D_HOME`` if set and non-empty, else ``~/.cache/morph3d``.
    """
    if home is not None:
        return Path(home).expanduser()
    env = os.environ.get("MORPH3D_HOME", "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "morph3d"


def model_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the path of the morphable-model file to use (it may not exist yet).

    Args:
        path: An explicit ``.npz`` file; wins over the home directory.

    Returns:
        ``path`` if given, else ``home_dir() / DEFAULT_MODEL_FILENAME``.
    """
    if path is not None:
        return Path(path).expanduser()
    return home_dir() / DEFAULT_MODEL_FILENAME


def require_file(path: str | os.PathLike[str], create_command: str) -> Path:
    """Return ``path`` if it is an existing file, else raise.

    Raises:
        ModelNotFoundError: naming the path and ``create_command``.
    """
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise ModelNotFoundError(resolved, create_command)
    return resolved


def weights_path(path: str | os.PathLike[str] | None = None, name: str = DEFAULT_WEIGHTS) -> Path:
    """Find trained network weights.

    Args:
        path: An explicit file; wins over everything else.
        name: File name looked for in ``home_dir()/models`` and then in the repository's
            ``assets/models``.

    Raises:
        ModelNotFoundError: nothing found; the message names the places searched.
    """
    if path is not None:
        return require_file(path, WEIGHTS_CREATE_COMMAND)
    places = [home_dir() / "models" / name, ASSETS_MODELS / name]
    for place in places:
        if place.is_file():
            return place
    raise ModelNotFoundError(" or ".join(str(p) for p in places), WEIGHTS_CREATE_COMMAND)


DETECTORS_CREATE_COMMAND = (
    "bash setup.sh  (or: python scripts/prepare_detectors.py --source ../shared/data/detectors)"
)


def detectors_dir() -> Path:
    """``home_dir() / "detectors"``: where setup puts the face-detector weights."""
    return home_dir() / "detectors"


def detector_path(name: str, path: str | os.PathLike[str] | None = None) -> Path:
    """The weights file ``name`` of a face detector (or ``path`` when given).

    Raises:
        ModelNotFoundError: the file is missing; the message names the command that installs it.
    """
    return require_file(
        path if path is not None else detectors_dir() / name, DETECTORS_CREATE_COMMAND
    )
