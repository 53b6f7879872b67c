"""Readers of facial-landmark annotation files.

* 300W ``.pts``: an optional header (``version: 1``, ``n_points: 68``, ``{``), then one ``x y``
  line per point, then ``}``. Coordinates are returned exactly as written (pixels).
* AFLW2000-3D and 300W-LP ``.mat``: ``pt3d_68`` (3, 68) and/or ``pt2d`` (2, 68 or 21),
  ``Pose_Para`` ``[pitch, yaw, roll, tx, ty, tz, scale]`` (radians), optionally ``roi``,
  ``Shape_Para``, ``Exp_Para``.
* dlib's imglab XML: several images, several ``<box>`` per image with ``<part>`` landmarks.

Every malformed file raises :class:`~morph3d.errors.AnnotationError` naming the file and the
problem.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from morph3d.errors import AnnotationError, naming_extras

__all__ = [
    "DlibFace",
    "DlibImage",
    "MatAnnotation",
    "read_dlib_xml",
    "read_mat",
    "read_pts",
]

PathLike = str | os.PathLike[str]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError as error:
        raise AnnotationError(path, "file not found") from error
    except (OSError, UnicodeDecodeError) as error:
        raise AnnotationError(path, f"cannot read ({error})") from error


#: Largest landmark coordinate (pixels) a file may hold: no photo is a million pixels wide.
MAX_COORDINATE = 1e6


def read_pts(path: PathLike, n_points: int | None = 68) -> np.ndarray:
    """Read a 300W ``.pts`` file (with or without its header).

    Args:
        path: The file.
        n_points: Expected number of points, or None to accept any number.

    Returns:
        ``(n, 2)`` float64 landmarks, as written in the file.

    Raises:
        AnnotationError: missing file, bad syntax, non-finite values, wrong point count, or a
            count that disagrees with the header's ``n_points``.
    """
    path = Path(path)
    declared: int | None = None
    rows: list[tuple[float, float]] = []
    for number, raw in enumerate(_read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line or line in "{}" or line.startswith("version"):
            continue
        if line.startswith("n_points"):
            try:
                declared = int(line.split(":", 1)[1])
            except (IndexError, ValueError) as error:
                raise AnnotationError(path, f"line {number}: bad n_points {line!r}") from error
            continue
        fields = line.split()
        try:
            if len(fields) != 2:
                raise ValueError
            x, y = float(fields[0]), float(fields[1])
        except ValueError as error:
            raise AnnotationError(path, f"line {number}: expected 'x y', got {line!r}") from error
        if not (math.isfinite(x) and math.isfinite(y)):
            raise AnnotationError(path, f"line {number}: non-finite coordinate {line!r}")
        if max(abs(x), abs(y)) > MAX_COORDINATE:
            raise AnnotationError(path, f"line {number}: coordinate beyond any image {line!r}")
        rows.append((x, y))
    if not rows:
        raise AnnotationError(path, "no points")
    if declared is not None and declared != len(rows):
        raise AnnotationError(path, f"header says {declared} points, file has {len(rows)}")
    if n_points is not None and len(rows) != n_points:
        raise AnnotationError(path, f"expected {n_points} points, got {len(rows)}")
    return np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True)
class MatAnnotation:
    """The content of an AFLW2000-3D or 300W-LP ``.mat`` file.

    Attributes:
        landmarks: ``(68, 2)`` landmarks in image pixels: ``pt3d_68[:2]`` where present
            (AFLW2000-3D), else ``pt2d`` (300W-LP).
        landmarks_3d: ``(68, 3)`` ``pt3d_68`` or None.
        pose: ``(7,)`` ``Pose_Para``: pitch, yaw, roll (radians), tx, ty, tz, scale.
        roi: ``(4,)`` the file's ``roi`` or None.
        shape_params: The full-BFM ``Shape_Para`` or None.
        expression_params: The full-BFM ``Exp_Para`` or None.
    """

    landmarks: np.ndarray
    landmarks_3d: np.ndarray | None
    pose: np.ndarray
    roi: np.ndarray | None
    shape_params: np.ndarray | None
    expression_params: np.ndarray | None

    @property
    def yaw_degrees(self) -> float:
        """The annotated yaw in degrees."""
        return math.degrees(float(self.pose[1]))


def _load_mat(path: Path) -> dict[str, np.ndarray]:
    with naming_extras():  # scipy comes with the train extra
        import scipy.io  # heavy; only needed here

    if not path.is_file():
        raise AnnotationError(path, "file not found")
    try:
        content = scipy.io.loadmat(str(path))
    except NotImplementedError:  # MATLAB v7.3 files are HDF5
        with naming_extras():
            import h5py

        try:
            with h5py.File(path, "r") as handle:
                # h5py reads MATLAB arrays transposed.
                return {key: np.asarray(value).T for key, value in handle.items()}
        except OSError as error:
            raise AnnotationError(path, f"cannot read MATLAB v7.3 file ({error})") from error
    except Exception as error:  # scipy raises MatReadError, ValueError, OSError, ...
        raise AnnotationError(path, f"not a readable .mat file ({error})") from error
    return {key: np.asarray(value) for key, value in content.items() if not key.startswith("__")}


def read_mat(path: PathLike) -> MatAnnotation:
    """Read an AFLW2000-3D or 300W-LP ``.mat`` annotation.

    Raises:
        AnnotationError: missing file, unreadable, no 68-point landmarks, bad shapes or NaN.
    """
    path = Path(path)
    content = _load_mat(path)

    def optional(key: str, size: int | None = None) -> np.ndarray | None:
        if key not in content:
            return None
        value = np.asarray(content[key], dtype=np.float64).reshape(-1)
        if size is not None and value.size != size:
            raise AnnotationError(path, f"{key} must have {size} numbers, got {value.size}")
        return value

    landmarks_3d = None
    if "pt3d_68" in content:
        pt3d = np.asarray(content["pt3d_68"], dtype=np.float64)
        if pt3d.shape != (3, 68):
            raise AnnotationError(path, f"pt3d_68 must be (3, 68), got {pt3d.shape}")
        landmarks_3d = pt3d.T.copy()
        landmarks = landmarks_3d[:, :2].copy()
    elif "pt2d" in content and np.shape(content["pt2d"]) == (2, 68):
        landmarks = np.asarray(content["pt2d"], dtype=np.float64).T.copy()
    else:
        raise AnnotationError(path, "no 68-point landmarks (pt3d_68 or a (2, 68) pt2d)")
    if not np.all(np.isfinite(landmarks)):
        raise AnnotationError(path, "landmarks contain NaN or infinity")
    pose = optional("Pose_Para", 7)
    if pose is None:
        raise AnnotationError(path, "no Pose_Para")
    return MatAnnotation(
        landmarks=landmarks,
        landmarks_3d=landmarks_3d,
        pose=pose,
        roi=optional("roi", 4),
        shape_params=optional("Shape_Para"),
        expression_params=optional("Exp_Para"),
    )


@dataclass(frozen=True)
class DlibFace:
    """One ``<box>`` of a dlib XML file.

    Attributes:
        box: ``(4,)`` ``x0, y0, x1, y1`` in pixels.
        landmarks: ``(68, 2)`` landmarks, or None when the box has no parts.
        ignore: The box is marked ``ignore='1'``.
    """

    box: np.ndarray
    landmarks: np.ndarray | None
    ignore: bool


@dataclass(frozen=True)
class DlibImage:
    """One ``<image>`` of a dlib XML file: its path (resolved next to the XML) and faces."""

    path: Path
    faces: tuple[DlibFace, ...]


def _attribute(path: Path, element: ElementTree.Element, name: str) -> float:
    value = element.get(name)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise AnnotationError(path, f"<{element.tag}> has a bad {name}={value!r}") from error
    if not math.isfinite(number):
        raise AnnotationError(path, f"<{element.tag}> has a non-finite {name}")
    return number


def read_dlib_xml(path: PathLike, n_points: int = 68) -> list[DlibImage]:
    """Read a dlib imglab XML file with landmarks (several faces per image).

    Args:
        path: The XML file; image paths in it are taken relative to its folder.
        n_points: Number of parts a face with landmarks must have.

    Returns:
        The images in file order, each with its faces.

    Raises:
        AnnotationError: unreadable XML, missing attributes, or a box whose parts are not
            exactly the names ``0 .. n_points-1``.
    """
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, "file not found")
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise AnnotationError(path, f"not valid XML ({error})") from error
    images = []
    for image in root.iter("image"):
        name = image.get("file")
        if not name:
            raise AnnotationError(path, "an <image> has no file attribute")
        faces = []
        for box in image.iter("box"):
            left, top = _attribute(path, box, "left"), _attribute(path, box, "top")
            width, height = _attribute(path, box, "width"), _attribute(path, box, "height")
            parts = box.findall("part")
            landmarks = None
            if parts:
                points = {}
                for part in parts:
                    try:
                        index = int(part.get("name", ""))
                    except ValueError as error:
                        raise AnnotationError(path, f"{name}: bad part name") from error
                    points[index] = (_attribute(path, part, "x"), _attribute(path, part, "y"))
                if sorted(points) != list(range(n_points)):
                    raise AnnotationError(
                        path, f"{name}: a box has parts {len(points)}, expected 0..{n_points - 1}"
                    )
                landmarks = np.asarray([points[k] for k in range(n_points)], dtype=np.float64)
            faces.append(
                DlibFace(
                    box=np.asarray([left, top, left + width, top + height], dtype=np.float64),
                    landmarks=landmarks,
                    ignore=box.get("ignore", "0") == "1",
                )
            )
        images.append(DlibImage(path=path.parent / name, faces=tuple(faces)))
    return images
