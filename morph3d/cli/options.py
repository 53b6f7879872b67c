"""Options shared by the commands, and frozen config dataclasses as options.

:func:`add_config_options` turns every field of a frozen dataclass into an option (its default,
its type, ``Literal`` fields as choices, booleans as ``--name/--no-name``, nested dataclasses
under a prefix) and :func:`config_from_args` builds the dataclass back from the parsed
namespace, so a setting added to a config shows on the command line without more code.
Scripts use the same two functions.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from morph3d.errors import Morph3DError

__all__ = [
    "DETECTORS",
    "CommandError",
    "add_config_options",
    "add_detector_option",
    "add_model_option",
    "add_pass_options",
    "add_tracker_options",
    "add_weights_option",
    "config_from_args",
    "detector_options",
    "detector_size",
    "refuse_overwriting",
    "tracker_config",
    "tracking_reconstructor",
]

#: The face detector backends (``morph3d.detection.base.Backend``).
DETECTORS = ("ultralight", "yunet", "cascade")

T = TypeVar("T")


class CommandError(Morph3DError):
    """A command cannot run with the arguments it was given (exit status 2)."""


def refuse_overwriting(inputs: Sequence[Path | None], outputs: Sequence[Path | None]) -> None:
    """Refuse to run when an output file is one of the inputs (it would be destroyed).

    Raises:
        CommandError: an output resolves to the same file as an input.
    """
    sources = {Path(p).resolve() for p in inputs if p is not None}
    for output in outputs:
        if output is not None and Path(output).resolve() in sources:
            raise CommandError(f"{output} is an input: refusing to overwrite it")


def add_detector_option(parser: argparse.ArgumentParser) -> None:
    """``--detector``: the face detector backend; ``--detector-size WxH``: Ultra-Light's
    input size."""
    parser.add_argument(
        "--detector", default="ultralight", choices=DETECTORS,
        help="face detector (default: ultralight)",
    )  # fmt: skip
    parser.add_argument(
        "--detector-size", type=detector_size, metavar="WxH",
        help="Ultra-Light's input size, e.g. 320x240: larger finds smaller faces, for more "
             "time (default 256x192)",
    )  # fmt: skip


def detector_options(args: argparse.Namespace) -> dict[str, Any]:
    """The detector's keyword options of ``--detector-size`` (``input_size``, or none).

    Raises:
        CommandError: a size with ``--detector yunet``, which looks at the whole image.
    """
    if args.detector_size is None:
        return {}
    if args.detector == "yunet":
        raise CommandError("--detector-size sets Ultra-Light's input size: YuNet takes none")
    return {"input_size": args.detector_size}


def detector_size(text: str) -> tuple[int, int]:
    """``"WxH"`` as ``(W, H)``, each at least 16 (the ``--detector-size`` option's type)."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.isdigit() and int(part) >= 16 for part in parts):
        raise argparse.ArgumentTypeError(f"expected WxH with sides of 16 or more, got {text!r}")
    return int(parts[0]), int(parts[1])


def add_weights_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--weights``: the network file; ``help`` says which kinds the command reads."""
    parser.add_argument("--weights", type=Path, help=help)


def add_pass_options(parser: argparse.ArgumentParser, flip: bool, specialist: bool) -> None:
    """``--flip/--no-flip`` (the mirrored-crop ensemble, on when ``flip``), ``--derotate``
    (the upright second pass), ``--jitter`` (the jittered-crop ensemble) and ``--specialist``,
    ``--specialist-yaw``, ``--specialist-mirror`` and ``--no-specialist`` (the large-pose
    specialist; the shipped one by default with the default weights when ``specialist``, else
    only when named): how each face is predicted."""
    from morph3d.inference.predictor import ACCURATE_JITTER
    from morph3d.inference.specialist import SPECIALIST_YAW

    parser.add_argument(
        "--flip", action=argparse.BooleanOptionalAction, default=flip,
        help="average with the mirrored crop's prediction (twice the network time; default "
        + ("on)" if flip else "off)"),
    )  # fmt: skip
    parser.add_argument(
        "--derotate", action="store_true",
        help="predict again from the same crop turned upright by the head's lean (a second pass)",
    )  # fmt: skip
    parser.add_argument(
        "--jitter", nargs="?", type=_jitter, default=0.0, const=ACCURATE_JITTER, metavar="SHIFT",
        help="average each face over its crop and four crops moved by SHIFT of the crop's side "
        f"(five times the network runs; bare --jitter: {ACCURATE_JITTER:g}; default off)",
    )  # fmt: skip
    parser.add_argument(
        "--specialist", type=Path, nargs="+", metavar="WEIGHTS",
        help="large-pose network that predicts again the faces the first finds turned by "
        "--specialist-yaw or more; several: the mean of their predictions, the first on the "
        "mirrored crops (default: "
        + ("the shipped one with the default --weights)" if specialist else "none)"),
    )  # fmt: skip
    parser.add_argument(
        "--specialist-yaw", type=_yaw_degrees, default=SPECIALIST_YAW, metavar="DEGREES",
        help=f"|yaw| from which the specialist predicts (default {SPECIALIST_YAW:g})",
    )  # fmt: skip
    parser.add_argument(
        "--specialist-mirror", action=argparse.BooleanOptionalAction, default=True,
        help="with --flip, the specialist predicts every face's mirrored crop, the first network "
        "the crop (an ensemble of the two for no extra time; default on)",
    )  # fmt: skip
    if specialist:
        parser.add_argument(
            "--no-specialist", action="store_true", help="no large-pose specialist"
        )  # fmt: skip


def add_refine_options(parser: argparse.ArgumentParser, reconstructor: bool) -> None:
    """``--refine N`` and ``--refine-yaw DEGREES``: passes that re-crop from the predicted
    landmarks, for the faces turned that far (defaults: ``ReconstructorConfig``'s when
    ``reconstructor``, else no pass and every face)."""
    from morph3d.pipeline.reconstructor import ReconstructorConfig

    defaults = (
        ReconstructorConfig() if reconstructor else ReconstructorConfig(refine=0, refine_yaw=0)
    )
    parser.add_argument(
        "--refine", type=_passes, default=defaults.refine, metavar="N",
        help=f"passes that re-crop from the predicted landmarks (default {defaults.refine})",
    )  # fmt: skip
    parser.add_argument(
        "--refine-yaw", type=_yaw_degrees, default=defaults.refine_yaw, metavar="DEGREES",
        help="re-crop only the faces the previous pass finds turned by this |yaw| or more "
        f"(0: every face; default {defaults.refine_yaw:g})",
    )  # fmt: skip


def _jitter(text: str) -> float:
    """A crop shift from the command line: a fraction of the crop's side in [0, 0.5)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 0.5:
        raise argparse.ArgumentTypeError(f"must be in [0, 0.5) of the crop's side, got {value}")
    return value


def _passes(text: str) -> int:
    """A number of passes from the command line, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _yaw_degrees(text: str) -> float:
    """An |yaw| threshold in degrees from the command line, 0 to 180."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of degrees: {text!r}") from None
    if not 0 <= value <= 180:
        raise argparse.ArgumentTypeError(f"must be 0 to 180 degrees, got {value:g}")
    return value


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """``--model``: the morphable model file."""
    parser.add_argument(
        "--model", type=Path, help="morphable model (default: $MORPH3D_HOME or ~/.cache/morph3d)"
    )


def add_tracker_options(parser: argparse.ArgumentParser) -> None:
    """Every :class:`~morph3d.pipeline.tracker.TrackerConfig` field, the detector and weights.

    The 1€ filter settings are ``--filter-min-cutoff``, ``--filter-beta`` and
    ``--filter-d-cutoff``; ``--min-cutoff`` and ``--beta`` remain as their short names.
    """
    from morph3d.pipeline.tracker import TrackerConfig

    group = parser.add_argument_group("tracking (TrackerConfig)")
    add_config_options(
        group,
        TrackerConfig,
        aliases={"filter.min_cutoff": "--min-cutoff", "filter.beta": "--beta"},
    )
    add_detector_option(parser)
    add_weights_option(parser, "network (.onnx, default: shipped x1.0)")


def tracker_config(args: argparse.Namespace) -> Any:
    """The :class:`~morph3d.pipeline.tracker.TrackerConfig` of :func:`add_tracker_options`."""
    from morph3d.pipeline.tracker import TrackerConfig

    return config_from_args(args, TrackerConfig)


def tracking_reconstructor(args: argparse.Namespace) -> Any:
    """The tracker's default :class:`~morph3d.pipeline.reconstructor.ReconstructorConfig`
    with the ``--weights``, ``--detector`` and ``--detector-size`` options."""
    import dataclasses

    from morph3d.pipeline.tracker import TRACKING_RECONSTRUCTOR

    size = detector_options(args).get("input_size")
    return dataclasses.replace(
        TRACKING_RECONSTRUCTOR, weights=args.weights, detector=args.detector, detector_size=size
    )


def add_config_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    prefix: str = "",
    prefixes: Mapping[str, str] | None = None,
    aliases: Mapping[str, str] | None = None,
    default: Any = None,
) -> None:
    """Add one option per field of the dataclass ``cls``.

    A field ``max_jump`` becomes ``--{prefix}max-jump`` with the field's default and type; a
    ``Literal`` field lists its values as choices; a ``bool`` field gives ``--name`` and
    ``--no-name``; a nested dataclass field ``filter`` adds its own fields under the prefix
    ``filter-`` (or ``prefixes["filter"]``). Help texts come from the ``Attributes:`` section
    of the class docstring.

    Args:
        parser: Parser or argument group to add the options to.
        cls: A dataclass whose fields are ``int``, ``float``, ``str``, ``bool``, ``Path``,
            ``Literal[...]`` (optionally ``| None``) or dataclasses.
        prefix: Prepended to every option name.
        prefixes: Prefix of a nested dataclass field by its dotted path (``"augment"``), in
            place of ``"<field>-"``.
        aliases: Extra option strings by dotted field path (``{"filter.beta": "--beta"}``).
        default: Instance whose values are the defaults (default: ``cls()``).

    Raises:
        TypeError: A field has a type that cannot be read from the command line.
    """
    _add(parser, cls, prefix, (), dict(prefixes or {}), dict(aliases or {}), default)


def config_from_args(args: argparse.Namespace, cls: type[T]) -> T:
    """The instance of ``cls`` given by the options of :func:`add_config_options`.

    Args:
        args: Parsed namespace of a parser that :func:`add_config_options` filled for ``cls``.
        cls: The same dataclass.

    Returns:
        A new ``cls`` with every field read from ``args`` (nested dataclasses too).
    """
    return _build(args, cls, ())


def _dest(cls: type, path: tuple[str, ...]) -> str:
    # Namespaced so that config fields never clash with a command's own options.
    return f"{cls.__name__}.{'.'.join(path)}"


def _field_help(cls: type) -> dict[str, str]:
    """Field descriptions of the ``Attributes:`` section of a Google-style docstring."""
    text = cls.__doc__ or ""
    if "Attributes:" not in text:
        return {}
    helps: dict[str, str] = {}
    name, indent = None, None
    for line in text.split("Attributes:", 1)[1].splitlines():
        if not line.strip():
            if helps:
                break
            continue
        depth = len(line) - len(line.lstrip())
        indent = depth if indent is None else indent
        match = re.match(r"(\w+): (.*)$", line.strip())
        if depth == indent and match:
            name = match.group(1)
            helps[name] = match.group(2)
        elif name and depth > indent:
            helps[name] += " " + line.strip()
    # Sphinx roles and literals read badly in a terminal.
    clean = {key: re.sub(r":\w+:`([^`]*)`", r"\1", value) for key, value in helps.items()}
    return {key: value.replace("``", "").replace("%", "%%") for key, value in clean.items()}


def _unwrap(kind: Any) -> tuple[Any, bool]:
    """The type of ``X | None`` (and whether ``None`` was allowed)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(members) == 1:
            return members[0], True
    return kind, False


def _add(
    parser: Any,
    cls: type,
    prefix: str,
    path: tuple[str, ...],
    prefixes: dict[str, str],
    aliases: dict[str, str],
    default: Any,
) -> None:
    root = cls if not path else None
    default = cls() if default is None else default
    hints = typing.get_type_hints(type(default))
    helps = _field_help(type(default))
    for item in dataclasses.fields(default):
        here = (*path, item.name)
        dotted = ".".join(here)
        value = getattr(default, item.name)
        kind, optional = _unwrap(hints[item.name])
        if dataclasses.is_dataclass(kind):
            inner = prefixes.get(dotted, f"{item.name.replace('_', '-')}-")
            _add(parser, root or cls, prefix + inner, here, prefixes, aliases, value)
            continue
        names = [f"--{prefix}{item.name.replace('_', '-')}"]
        if dotted in aliases:
            names.append(aliases[dotted])
        text = helps.get(item.name, "")
        options: dict[str, Any] = {"dest": _dest(root or cls, here), "default": value}
        if typing.get_origin(kind) is Literal:
            choices = typing.get_args(kind)
            options.update(type=type(choices[0]), choices=choices)
        elif kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif kind in (int, float, str, Path):
            options.update(type=kind, metavar=item.name.split("_")[-1].upper())
        else:
            raise TypeError(f"{cls.__name__}.{dotted}: cannot read {kind!r} from the command line")
        if optional:
            text += " (may be left unset)"
        options["help"] = f"{text} (default: %(default)s)".strip()
        parser.add_argument(*names, **options)


def _build(
    args: argparse.Namespace, cls: type[T], path: tuple[str, ...], root: type | None = None
) -> T:
    root = root or cls
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        here = (*path, item.name)
        kind, _ = _unwrap(hints[item.name])
        if dataclasses.is_dataclass(kind):
            values[item.name] = _build(args, kind, here, root)  # type: ignore[arg-type]
        else:
            values[item.name] = getattr(args, _dest(root, here))
    return cls(**values)
