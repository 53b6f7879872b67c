"""The ``morph3d`` command line (layer 7).

One module per command (``info``, ``evaluate``, ``export``, ``reconstruct``, ``track``, ``ar``),
each with ``add_parser`` and ``run``; shared options in :mod:`morph3d.cli.options`. Commands
print; an error of the :class:`~morph3d.errors.Morph3DError` family ends the command with a
one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from morph3d import __version__
from morph3d.cli import ar, evaluate, export, info, reconstruct, track
from morph3d.cli.termination import handle_sigterm, stop_if_terminated
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    A SIGTERM ends the command as Ctrl-C does, through the ``finally`` and ``with`` blocks, so
    nothing is left half-written (:mod:`morph3d.cli.termination`); a SIGTERM that the parent
    process set to be ignored stays ignored, as it would for any other program.
    """
    args = build_parser().parse_args(argv)
    handle_sigterm()  # morph3d.cli.termination
    try:
        with naming_extras():  # a command whose extra is not installed says which to install
            status = int(args.run(args))
        stop_if_terminated()  # a SIGTERM whose exception was dropped on the way
        return status
    except BaseException as error:
        # A SIGTERM's exit raised inside a callback from compiled code can come back as
        # another exception (numba: SystemError; an extension's import: ImportError).
        stop_if_terminated()
        if not isinstance(error, Morph3DError | OSError):  # OSError: a read-only folder, ...
            raise
        message = " ".join(str(error).split())
        print(f"morph3d: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
