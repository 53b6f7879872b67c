"""Time every stage of reconstruction (the former ``morph3d bench``).

    python scripts/bench_reconstruct.py --json work/bench/reconstruct.json

Per stage (image decode, detection, crop, network, mesh decode, whole ``faces``), the median and
90th percentile over many runs on real photos letterboxed to 640x480; model sizes; the start-up
time and peak memory of a ``morph3d reconstruct`` process; and, when ``mediapipe`` is importable,
its FaceMesh on the same images: alone after the stages, and head to head with the reconstructor
as shipped, taking turns photo by photo (:func:`~morph3d.evaluation.speed.head_to_head`), which
the machine's drift between two blocks cannot tilt. By default it times the reconstructor as
shipped (``Reconstructor()``); ``--weights`` (and ``--flip``) or ``--all`` time networks alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from morph3d.core.crop import CROP_SIZE, crop_to_image
from morph3d.evaluation.peers import FaceMesh, mediapipe_available
from morph3d.evaluation.speed import (
    head_to_head,
    letterbox,
    machine_info,
    time_call,
    time_process,
    time_stages,
    timing_summary,
)
from morph3d.files import write_json
from morph3d.inference.litert import litert_available, network_file
from morph3d.io.image import crop_image, read_image
from morph3d.paths import ASSETS_MODELS, DEFAULT_ONNX_WEIGHTS, SHARED_DATA, SPECIALIST_ONNX_WEIGHTS
from morph3d.pipeline.reconstructor import Reconstructor


def stages(reconstructor: Reconstructor, photo: Path, image: np.ndarray) -> dict[str, Callable]:
    """The calls of each stage on one photo (its largest face); empty if no face is found."""
    detector, predictor, model = (
        reconstructor.detector,
        reconstructor.predictor,
        reconstructor.model,
    )
    faces = detector.detect(image)
    if not faces:
        return {}
    box = detector.crop_box(faces[0].box)
    crop = crop_image(image, box, CROP_SIZE)
    params = predictor.predict(crop[None])
    return {
        "decode": lambda: read_image(photo),
        "detect": lambda: detector.detect(image),
        "crop": lambda: crop_image(image, box, CROP_SIZE),
        "network": lambda: predictor.predict(crop[None]),
        "mesh": lambda: crop_to_image(model.decode(params)[0], box),
        "whole": lambda: reconstructor.faces(image),
    }


def process(photo: Path, weights: Path | None, flip: bool = True) -> dict[str, float]:
    """Wall time and peak RSS of a ``morph3d reconstruct`` process (None: shipped; no face: 1)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "morph3d.cli", "reconstruct", str(photo), "-o", folder,
                   "--flip" if flip else "--no-flip"]  # fmt: skip
        return time_process(command + (["--weights", str(weights)] if weights else []))


def mediapipe(images: list[np.ndarray], repeats: int) -> dict[str, Any]:
    """MediaPipe FaceMesh (static images) on the same pictures, if it is installed, meshing every
    face it finds as ``Reconstructor.faces`` does (up to 10: the faces morph3d finds here)."""
    version = mediapipe_available()
    if version is None:
        return {"available": False, "note": "pip install mediapipe==0.10.21 to compare"}
    mesh = FaceMesh(static=True, faces=10).mesh
    times = [ms for image in images for ms in time_call(partial(mesh.process, image), repeats)]
    return {"available": True, "version": version, "face_mesh": timing_summary(times)}


def run_benchmark(
    photos: Sequence[Path],
    weights: Sequence[Path | None],
    repeats: int = 50,
    threads: int | None = None,
    flips: Sequence[bool] = (False,),
) -> dict[str, Any]:
    """Time every stage for each network, alone and/or with the mirrored-crop ensemble
    (``flips``); ``None`` among ``weights``: the reconstructor as shipped (the default network
    with the large-pose specialist, the mirror on). Returns the JSON-able report."""
    standard = [letterbox(read_image(path)) for path in photos]
    report: dict[str, Any] = {
        "machine": machine_info(threads),
        "photos": [str(path) for path in photos],
        "repeats": repeats,
        "networks": {},
    }
    runs: list[tuple[str, Path | None, bool, bool]] = []
    for path in weights:
        if path is None:
            runs.append(("as shipped (default + specialist, mirrored)", None, True, True))
            if litert_available():  # the same networks' ONNX Runtime copies, for comparison
                runs.append(("as shipped on ONNX Runtime (litert=False)", None, True, False))
        else:
            runs += [(path.name + (" --flip" if flip else ""), path, flip, True) for flip in flips]
    for name, path, flip, litert in runs:
        reconstructor = Reconstructor(weights=path, threads=threads, flip=flip, litert=litert)
        times: dict[str, list[float]] = {}
        for photo, image in zip(photos, standard, strict=True):
            for stage, values in time_stages(stages(reconstructor, photo, image), repeats).items():
                times.setdefault(stage, []).extend(values)
        shipped = [DEFAULT_ONNX_WEIGHTS, SPECIALIST_ONNX_WEIGHTS]
        files = [path] if path is not None else [
            ASSETS_MODELS / (network_file(file, [ASSETS_MODELS]) if litert else file)
            for file in shipped
        ]  # fmt: skip
        report["networks"][name] = {
            "size_mb": sum(file.stat().st_size for file in files) / 1e6,
            "stages_640x480": {key: timing_summary(v) for key, v in times.items()},
            "refine_passes": reconstructor.config.refine,
            "flip": flip,
            "process": process(photos[0], path, flip),
        }
    report["mediapipe"] = mediapipe(standard, repeats)
    if report["mediapipe"]["available"] and None in weights:  # the shipped one and MediaPipe
        contenders = {"morph3d": Reconstructor(threads=threads).faces,
                      "mediapipe": FaceMesh(static=True, faces=10).mesh.process}  # fmt: skip
        report["head_to_head"] = head_to_head(contenders, standard, repeats)
    return report


def print_report(report: dict[str, Any]) -> None:
    """A readable table of :func:`run_benchmark`'s report."""
    machine = report["machine"]
    print(f"machine: {machine['processor']}, {machine['physical_cores']} physical cores, "
          f"{machine['threads']} threads; {len(report['photos'])} photos at 640x480, "
          f"{report['repeats']} runs each")  # fmt: skip
    for name, network in report["networks"].items():
        print(f"\n{name} ({network['size_mb']:.1f} MB), refine passes {network['refine_passes']}")
        print(f"  {'stage':<10} {'median ms':>10} {'p90 ms':>8}")
        for stage, figures in network["stages_640x480"].items():
            print(f"  {stage:<10} {figures['median_ms']:>10.2f} {figures['p90_ms']:>8.2f}")
        process = network["process"]
        print(f"  morph3d reconstruct process: {process['wall_s']:.2f} s, "
              f"peak RSS {process['peak_rss_mb']:.0f} MB")  # fmt: skip
    head = report.get("head_to_head")
    if head is not None:
        ours, theirs = head["morph3d"], head["mediapipe"]
        pairs = zip(ours["per_input_median_ms"], theirs["per_input_median_ms"], strict=True)
        print(f"\nhead to head, taking turns: morph3d {ours['median_ms']:.2f} ms median, MediaPipe "
              f"{theirs['median_ms']:.2f} ({head['ratio']:.2f}x); per photo "
              + ", ".join(f"{a:.1f}/{b:.1f}" for a, b in pairs))  # fmt: skip
    result = report["mediapipe"]
    if result["available"]:
        median, p90 = result["face_mesh"]["median_ms"], result["face_mesh"]["p90_ms"]
        print(f"\nMediaPipe {result['version']} FaceMesh: median {median:.2f} ms, p90 {p90:.2f} ms")
    else:
        print(f"\nMediaPipe: {result['note']}")


def default_networks() -> list[Path]:
    """The shipped regressors, ONNX and LiteRT (the eye and brow refiners sit beside them)."""
    files = ASSETS_MODELS.glob("shufflenetv2_*")  # with the .pt weights and .json cards
    return sorted(f for f in files if f.suffix in (".onnx", ".tflite"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--photos", type=Path, nargs="*", help="default: ../shared/data/photos")
    parser.add_argument(
        "--weights", type=Path, nargs="*",
        help="networks to time alone (default: only the reconstructor as shipped)",
    )  # fmt: skip
    parser.add_argument("--all", action="store_true", help="also each assets/models network")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, help="threads of each network run")
    parser.add_argument("--flip", action="store_true", help="also with the mirrored crops")
    args = parser.parse_args(argv)
    photos = args.photos or sorted((SHARED_DATA / "photos").glob("*.jpg"))
    if not photos:
        parser.error("no photos; pass --photos")
    weights: list[Path | None] = [None] if not (args.weights or args.all) else []
    weights += args.weights or []
    weights += default_networks() if args.all else []
    flips = (False, True) if args.flip else (False,)
    report = run_benchmark(photos, weights, args.repeats, args.threads, flips)
    print_report(report)
    if args.json:
        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
