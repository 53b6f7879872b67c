"""The ``morph3d`` command line (layer 7).

One module per command (``info``, ``evaluate``, ``export``, ``reconstruct``, ``track``, ``ar``),
each with ``add_parser`` and ``run``; shared options in :mod:`morph3d.cli.options`. Commands
print; an error of the :class:`~morph3d.errors.Morph3DError` family ends the command with a
one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from morph3d import __version__
from morph3d.cli import ar, evaluate, export, info, reconstruct, track
from morph3d.errors import Morph3DError, naming_extras

__all__ = ["build_parser", "main"]

_COMMANDS = (info, evaluate, export, reconstruct, track, ar)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``morph3d`` command."""
    parser = argparse.ArgumentParser(
        prog="morph3d", description="Dense 3D faces from photos and videos: reconstruct, track, AR."
    )
    parser.add_argument("--version", action="version", version=f"morph3d {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in _COMMANDS:
        command.add_parser(commands)
    return parser


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM as an exception, like Ctrl-C: open writers remove their temporary files.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    A SIGTERM ends the command as Ctrl-C does, through the ``finally`` and ``with`` blocks, so
    nothing is left half-written; a SIGTERM that the parent process set to be ignored stays
    ignored, as it would for any other program.
    """
    args = build_parser().parse_args(argv)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        with naming_extras():  # a command whose extra is not installed says which to install
            return int(args.run(args))
    except (Morph3DError, OSError) as error:  # OSError: a read-only folder, a full disk, ...
        message = " ".join(str(error).split())
        print(f"morph3d: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
