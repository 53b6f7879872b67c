"""Still-face jitter under webcam noise: a ladder of sensor noise, JPEG, defocus and low light.

    python scripts/bench_noise.py --json work/bench/noise.json --plot docs/noise_ladder.png

Every single-face photo of ../shared/data/photos (or --photos) is made into a 512 px portrait;
each rung plays it as a still video whose every frame gets its own degradation
(morph3d.evaluation.steadiness.NOISE_LADDER). Jitter is the RMS frame-to-frame landmark motion
over the face size, for the tracker without and with its 1€ filter and, when ``mediapipe``
(0.10.21) is importable, for MediaPipe FaceMesh in tracking mode on the same frames.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from tqdm import tqdm

from morph3d.evaluation import steadiness as st
from morph3d.evaluation.peers import FaceMesh, mediapipe_available
from morph3d.evaluation.plots import plot_noise_ladder
from morph3d.evaluation.speed import machine_info
from morph3d.files import write_json
from morph3d.io.image import read_image
from morph3d.paths import SHARED_DATA
from morph3d.pipeline.reconstructor import Reconstructor
from morph3d.pipeline.tracker import TRACKING_RECONSTRUCTOR, Tracker, TrackerConfig

PHOTOS = ("obama.jpg", "biden.jpg", "emma.jpg", "JianzhuGuo.jpg")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument("--plot", type=Path, help="bar chart PNG")
    parser.add_argument("--photos", type=Path, nargs="*", help="single-face photos")
    parser.add_argument("--frames", type=int, default=60, help="frames per rung")
    args = parser.parse_args(argv)
    photos = args.photos or [SHARED_DATA / "photos" / name for name in PHOTOS]
    reconstructor = Reconstructor(TRACKING_RECONSTRUCTOR)
    portraits = {}
    for path in photos:
        image = read_image(path)
        faces = reconstructor.detector.detect(image)
        if not faces:
            print(f"bench_noise: no face in {path}; left out", file=sys.stderr)
            continue
        portraits[path.stem] = st.portrait(image, faces[0].box)
    other = ("MediaPipe FaceMesh", FaceMesh, 468) if mediapipe_available() else None
    report = st.noise_ladder(
        partial(Tracker, reconstructor=reconstructor), TrackerConfig(), portraits, args.frames,
        other=other, progress=partial(tqdm, desc="rungs"),
    )  # fmt: skip
    report["machine"] = machine_info(reconstructor.config.threads)
    report["mediapipe"] = mediapipe_available()
    write_json(args.json, report)
    print(f"{'rung':14s} {'raw':>7s} {'1€':>7s} {'MediaPipe':>9s} {'1€/MP':>6s}   (% of face size)")
    for label, row in report["rungs"].items():
        other_text = (f"{row['other']:9.3f} {row['filtered_over_other']:6.2f}"
                      if "other" in row else f"{'-':>9s} {'-':>6s}")  # fmt: skip
        print(f"{label:14s} {row['raw']:7.3f} {row['filtered']:7.3f} {other_text}")
    if args.plot:
        print(f"wrote {plot_noise_ladder(report, args.plot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
