"""``morph3d track``: track faces through a video."""

from __future__ import annotations

import argparse
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
    parser = commands.add_parser("track", help="track faces through a video")
    parser.add_argument("video", type=Path)
    parser.add_argument("-o", "--output", required=True, type=Path, help="annotated video")
    parser.add_argument("--json", type=Path, help="per-frame faces (id, box, landmarks, pose)")
    add_tracker_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the annotated video (and the per-frame JSON), print a summary."""
    from dataclasses import asdict

    from morph3d.cli.termination import deferred, progress
    from morph3d.evaluation.draw import draw_label, draw_landmarks, draw_wireframe
    from morph3d.files import write_json
    from morph3d.io.video import VideoReader, VideoWriter
    from morph3d.pipeline.tracker import Tracker, track_video

    refuse_overwriting([args.video], [args.output, args.json])
    video = VideoReader(args.video)
    network = tracking_reconstructor(args)
    tracker = Tracker(tracker_config(args), network, fps=video.fps)
    with deferred():  # the detector's import and numba's kernels, where a SIGTERM waits
        tracker.warm_up()
    model = tracker.reconstructor.model
    frames: list[dict[str, Any]] = []
    with VideoWriter(args.output, video.fps, (video.width, video.height)) as writer:
        for frame, faces in track_video(video, tracker, progress):
            picture = frame.image
            for face in faces:
                picture = draw_wireframe(picture, face.vertices, model.grid, model.triangles)
                picture = draw_landmarks(picture, face.landmarks, color=(255, 60, 60), radius=2.0)
                corner = face.landmarks[:, :2].min(axis=0)  # above the brows, at the face's left
                draw_label(picture, f"id {face.id}", (corner[0], corner[1] - 12))
            writer.write(picture)
            faces_json = [face.to_dict() for face in faces]
            frames.append({"index": frame.index, "time": round(frame.time, 4), "faces": faces_json})
    if video.failed:
        print(f"morph3d: {video.failure_report()}", file=sys.stderr)
    if not frames:
        raise CommandError(f"no frame of {args.video} could be decoded")
    if args.json:
        write_json(
            args.json,
            {
                "video": str(args.video),
                "fps": video.fps,
                "width": video.width,
                "height": video.height,
                "frames_declared": video.declared_frames,
                "frames_decoded": len(frames),
                "skipped_frames": video.failed,
                "tracker": asdict(tracker.config),
                "tracker_ms_per_frame": tracker.times.per_frame_ms(),
                "frames": frames,
            },
        )
    ids = sorted({face["id"] for frame in frames for face in frame["faces"]})
    with_face = sum(bool(frame["faces"]) for frame in frames)
    print(
        f"tracked {len(frames)} frames ({with_face} with a face; ids {ids}; "
        f"{tracker.detector_calls} detector calls, {tracker.lost_tracks} lost tracks) "
        f"into {args.output}"
    )
    print(f"tracker ms per frame: {tracker.times.summary()}")
    return 0
