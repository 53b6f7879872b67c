"""``morph3d ar``: 3D effects on the faces of a video, an image or a webcam."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from morph3d.cli.options import (
    CommandError,
    add_tracker_options,
    refuse_overwriting,
    tracker_config,
    tracking_reconstructor,
)

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register the command on the subparsers ``commands``."""
    parser = commands.add_parser("ar", help="3D effects on the faces of a video, image or webcam")
    parser.add_argument("input", nargs="?", type=Path, help="video (.mp4, ...) or image")
    parser.add_argument(
        "--effect", default="dog", help="dog, glasses, hat, toon, or an effect's .glb"
    )
    parser.add_argument("-o", "--output", type=Path, help="output video, or PNG for an image")
    parser.add_argument("--camera", type=int, help="live preview of webcam N (needs a display)")
    parser.add_argument(
        "--shading", default="baked", choices=["baked", "pbr"],
        help="per-vertex lighting (fast on a CPU) or pyrender's PBR shader (better on a GPU)",
    )  # fmt: skip
    parser.add_argument(
        "--antialias", default="edges", choices=["edges", "msaa"],
        help="one sample a pixel and softened edges (fast on a CPU) or 4x multisampling "
        "(better on a GPU)",
    )  # fmt: skip
    add_tracker_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Render the effect into an image, a video, or a live camera window."""
    from morph3d.ar import AR, augment_video
    from morph3d.cli.termination import deferred, progress
    from morph3d.io.image import read_image, write_image
    from morph3d.io.video import VideoReader, is_video
    from morph3d.pipeline.tracker import Tracker

    if args.camera is None and args.input is None:
        raise CommandError("give an INPUT image or video, or --camera N")
    if args.camera is None and args.output is None:
        raise CommandError("-o OUTPUT is required for a file input")
    if args.camera is not None and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise CommandError("--camera needs a display for its preview window")
    refuse_overwriting([args.input], [args.output])
    config = tracker_config(args)
    network = tracking_reconstructor(args)
    if args.camera is not None:
        return _camera(
            AR(args.effect, Tracker(config, network), args.shading, args.antialias), args.camera
        )
    if not is_video(args.input):
        import cv2

        if not cv2.haveImageWriter(str(args.output)):
            raise CommandError(
                f"an image input gives an image: {args.output} is no image file name"
            )
        image = read_image(args.input)
        ar = AR(args.effect, Tracker(config, network), args.shading, args.antialias)
        write_image(args.output, ar(image))
        faces = len(ar.tracker.track_ids)
        print(f"{args.effect} on {faces} face{'s' * (faces != 1)}: {args.output}")
        return 0
    video = VideoReader(args.input)
    ar = AR(args.effect, Tracker(config, network, fps=video.fps), args.shading, args.antialias)
    with deferred():  # the detector's import and numba's kernels, where a SIGTERM waits
        ar.tracker.warm_up()
    times = augment_video(video, args.output, ar, progress)
    if video.failed:
        print(f"morph3d: {video.failure_report()}", file=sys.stderr)
    print(
        f"{times.frames} frames at {times.fps():.1f} fps into {args.output} "
        f"({times.steady_fps():.1f} fps after the first frame, which took "
        f"{1000 * times.first_frame:.0f} ms)"
    )
    print(f"ms per frame: {times.summary()}")
    return 0


def _camera(ar: Any, index: int) -> int:
    """Live preview of a webcam with the effect; q or Esc quits."""
    import cv2

    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        ar.close()
        raise CommandError(f"cannot open camera {index}")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            out = ar(frame, channel_order="bgr")
            cv2.imshow("morph3d ar (q quits)", cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                break
    finally:
        capture.release()
        cv2.destroyAllWindows()
        ar.close()
    return 0
