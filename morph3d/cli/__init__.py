"""The ``morph3d`` command line (layer 4)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from morph3d import __version__
from morph3d.errors import Morph3DError
from morph3d.io.datasets import DatasetFormat

__all__ = ["main"]


def _info(args: argparse.Namespace) -> int:
    from morph3d.core.model import load_model
    from morph3d.paths import model_path

    path = model_path(args.model)
    model = load_model(path)
    summary = {
        "path": str(path),
        "vertices": model.n_vertices,
        "triangles": len(model.triangles),
        "shape_coefficients": model.layout.n_shape,
        "expression_coefficients": model.layout.n_expression,
        "grid": list(model.grid.shape),
        "metadata": model.metadata,
    }
    print(json.dumps(summary, indent=2))
    return 0


_DATASETS: dict[str, DatasetFormat] = {"aflw2000-3d": "mat", "300w": "300w", "dlib": "dlib"}


def _evaluate(args: argparse.Namespace) -> int:
    from functools import partial

    import numpy as np
    from tqdm import tqdm

    from morph3d.core.model import load_model
    from morph3d.evaluation.accuracy import Boxer, evaluate_faces
    from morph3d.evaluation.plots import plot_ced
    from morph3d.files import write_json
    from morph3d.inference.torch_predictor import TorchPredictor
    from morph3d.io.datasets import AnnotatedFace, find_faces, split_indices

    model = load_model(args.model)
    predictor = TorchPredictor(args.weights, model, device=args.device)
    faces, failures = find_faces(_DATASETS[args.dataset], args.root)
    if args.split != "all":
        train, val = split_indices([face.name for face in faces], args.val_fraction)
        faces = [faces[i] for i in (val if args.split == "val" else train)]
    boxer: Boxer | None = None
    if args.crop == "detector":
        from morph3d.core.boxes import box_iou
        from morph3d.detection import create_detector

        detector = create_detector(args.detector)

        def detected_box(face: AnnotatedFace, image: np.ndarray) -> np.ndarray | None:
            # The detection that overlaps the annotated face most (a photo may hold several).
            detections = detector.detect(image)
            if not detections:
                return None
            truth = np.r_[face.landmarks.min(axis=0), face.landmarks.max(axis=0)]
            overlaps = box_iou(truth, np.stack([d.box for d in detections]))
            best = int(np.argmax(overlaps))
            if overlaps[best] < 0.2:
                return None
            return detector.crop_box(detections[best].box)

        boxer = detected_box

    result = evaluate_faces(
        faces, predictor, model, boxer=boxer, refine=args.refine,
        progress=partial(tqdm, leave=False),
    )  # fmt: skip
    result.failures = failures + result.failures
    report = result.summary(with_yaw_bins=args.dataset == "aflw2000-3d")
    report.update({"dataset": args.dataset, "root": str(args.root), "crop": args.crop})
    report.update({"refine": args.refine, "detector": None if boxer is None else args.detector})
    report["split"] = args.split
    write_json(args.json, report)
    print(f"{args.dataset}: {report['count']} faces, {len(result.failures)} failed")
    print(f"  NME (bbox)        mean {report['nme_mean']:.3f}  median {report['nme_median']:.3f}")
    print(f"  NME (inter-ocular) mean {report['nme_interocular_mean']:.3f}")
    if "yaw_bins" in report:
        for label, item in report["yaw_bins"].items():
            value = "-" if item["nme"] is None else f"{item['nme']:.3f}"
            print(f"  |yaw| {label:<10} {item['count']:>5} faces  NME {value}")
        print(f"  balanced {report['nme_balanced']:.3f}")
    if args.plot:
        import json

        runs: dict[str, Sequence[float]] = {args.label or args.json.stem: list(result.nme)}
        for other in args.compare or []:
            content = json.loads(other.read_text())
            runs[other.stem] = [item["nme"] for item in content["per_image"].values()]
        plot_ced(runs, args.plot, title=f"{args.dataset}, NME (bbox)")
        print(f"  wrote {args.plot}")
    return 0


def _export(args: argparse.Namespace) -> int:
    import numpy as np

    from morph3d.core.model import load_model
    from morph3d.inference.export import export_onnx
    from morph3d.inference.onnx_predictor import OnnxPredictor
    from morph3d.inference.torch_predictor import TorchPredictor, load_regressor
    from morph3d.paths import weights_path

    source = weights_path(args.weights)
    network = load_regressor(source)
    out = args.output or source.with_suffix(".onnx")
    export_onnx(network, out, args.input_size)
    model = load_model(args.model)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (8, args.input_size, args.input_size, 3), dtype=np.uint8)
    reference = model.landmarks(TorchPredictor(network, model).predict(crops))
    exported = model.landmarks(OnnxPredictor(out).predict(crops))
    difference = float(np.abs(reference - exported).max())
    print(f"exported {source} -> {out}; max landmark difference vs torch {difference:.2e} px")
    if difference >= 1e-3:
        print("morph3d: error: the ONNX model disagrees with torch", file=sys.stderr)
        return 1
    return 0


def _reconstruct(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from morph3d.core.pose import decompose_pose
    from morph3d.errors import ImageError
    from morph3d.evaluation.draw import draw_pose_axes, overlay_face
    from morph3d.files import atomic_path, write_json
    from morph3d.io.image import read_image, write_image
    from morph3d.pipeline.reconstructor import Reconstructor

    boxes = None
    if args.box:
        try:
            boxes = np.array([[float(v) for v in args.box.split(",")]])
        except ValueError:
            boxes = np.zeros((0, 0))
        if boxes.shape != (1, 4) or not (boxes[0, 2] > boxes[0, 0] and boxes[0, 3] > boxes[0, 1]):
            print(f"morph3d: error: --box must be x0,y0,x1,y1, got {args.box!r}", file=sys.stderr)
            return 2
    reconstructor = Reconstructor(
        weights=args.weights, detector=args.detector, runtime=args.runtime, refine=args.refine
    )
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in tqdm(args.images, unit="image", disable=len(args.images) < 2):
        try:
            image = read_image(path)
        except ImageError as error:
            print(f"morph3d: {path}: {error}", file=sys.stderr)
            failed += 1
            continue
        faces = reconstructor.faces(image, boxes)
        if not faces:
            print(f"morph3d: {path}: no face found", file=sys.stderr)
            failed += 1
            continue
        for k, face in enumerate(faces):
            stem = args.out / f"{path.stem}_{k}"
            mesh = reconstructor.mesh(image, face)
            data = mesh.export(file_type=args.format)  # OBJ comes back as text
            with atomic_path(stem.with_suffix(f".{args.format}")) as temporary:
                temporary.write_bytes(data.encode() if isinstance(data, str) else data)
            write_json(
                stem.with_suffix(".json"),
                {
                    "image": str(path),
                    "landmarks": np.round(face.landmarks, 3).tolist(),
                    "pose": {"yaw": face.pose[0], "pitch": face.pose[1], "roll": face.pose[2]},
                    "box": face.box.tolist(),
                    "detection_box": face.detection_box.tolist(),
                    "score": face.score,
                },
            )
            picture = overlay_face(image, face.vertices, reconstructor.model.triangles,
                                   landmarks=face.landmarks)  # fmt: skip
            rotation = decompose_pose(face.params[:12]).rotation
            picture = draw_pose_axes(picture, rotation, face.landmarks[30],
                                     0.4 * (face.box[2] - face.box[0]))  # fmt: skip
            write_image(stem.with_suffix(".png"), picture)
    print(f"reconstructed {len(args.images) - failed} of {len(args.images)} images into {args.out}")
    return 1 if failed else 0


def _bench(args: argparse.Namespace) -> int:
    from morph3d.evaluation.speed import print_report, run_benchmark
    from morph3d.files import write_json
    from morph3d.paths import ASSETS_MODELS, SHARED_DATA

    photos = args.photos
    if not photos:
        photos = sorted((SHARED_DATA / "photos").glob("*.jpg"))
    if not photos:
        print("morph3d: error: no photos; pass --photos", file=sys.stderr)
        return 2
    weights = args.weights or sorted(ASSETS_MODELS.glob("*.onnx"))
    if not weights:
        print("morph3d: error: no .onnx networks; pass --weights", file=sys.stderr)
        return 2
    report = run_benchmark(photos, weights, args.repeats, args.threads)
    print_report(report)
    if args.json:
        write_json(args.json, report)
    return 0


def _tracker_config(args: argparse.Namespace) -> Any:
    """The :class:`~morph3d.pipeline.tracker.TrackerConfig` of the smoothing options."""
    from morph3d.core.filters import FilterConfig
    from morph3d.pipeline.tracker import TrackerConfig

    default = TrackerConfig()
    return TrackerConfig(
        filter=FilterConfig(
            min_cutoff=default.filter.min_cutoff if args.min_cutoff is None else args.min_cutoff,
            beta=default.filter.beta if args.beta is None else args.beta,
            d_cutoff=default.filter.d_cutoff,
        ),
        smooth=args.smooth,
    )


def _track(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from tqdm import tqdm

    from morph3d.evaluation.draw import draw_label, draw_landmarks, draw_wireframe
    from morph3d.files import write_json
    from morph3d.io.video import VideoReader, VideoWriter
    from morph3d.pipeline.reconstructor import ReconstructorConfig
    from morph3d.pipeline.tracker import Tracker, track_video

    video = VideoReader(args.video)
    network = ReconstructorConfig(weights=args.weights, detector=args.detector, spin=False)
    tracker = Tracker(_tracker_config(args), network, fps=video.fps)
    model = tracker.reconstructor.model
    frames: list[dict[str, Any]] = []
    with VideoWriter(args.output, video.fps, (video.width, video.height)) as writer:
        for frame, faces in track_video(video, tracker, tqdm):
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
        print(f"morph3d: error: no frame of {args.video} could be decoded", file=sys.stderr)
        return 2
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
    return 0


def _ar(args: argparse.Namespace) -> int:
    import os

    from tqdm import tqdm

    from morph3d.ar import AR, augment_video
    from morph3d.io.image import read_image, write_image
    from morph3d.io.video import VideoReader, is_video
    from morph3d.pipeline.reconstructor import ReconstructorConfig
    from morph3d.pipeline.tracker import Tracker

    if args.camera is None and args.input is None:
        print("morph3d: error: give an INPUT image or video, or --camera N", file=sys.stderr)
        return 2
    if args.camera is None and args.output is None:
        print("morph3d: error: -o OUTPUT is required for a file input", file=sys.stderr)
        return 2
    if args.camera is not None and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        print("morph3d: error: --camera needs a display for its preview window", file=sys.stderr)
        return 2
    config = _tracker_config(args)
    network = ReconstructorConfig(weights=args.weights, detector=args.detector, spin=False)
    if args.camera is not None:
        ar = AR(args.effect, Tracker(config, network), shading=args.shading)
        return _ar_camera(ar, args.camera)
    if not is_video(args.input):
        image = read_image(args.input)
        ar = AR(args.effect, Tracker(config, network), shading=args.shading)
        write_image(args.output, ar(image))
        faces = len(ar.tracker.track_ids)
        print(f"{args.effect} on {faces} face{'s' * (faces != 1)}: {args.output}")
        return 0
    video = VideoReader(args.input)
    ar = AR(args.effect, Tracker(config, network, fps=video.fps), shading=args.shading)
    times = augment_video(video, args.output, ar, tqdm)
    if video.failed:
        print(f"morph3d: {video.failure_report()}", file=sys.stderr)
    stages = ", ".join(f"{k} {v:.1f}" for k, v in times.per_frame_ms().items())
    print(
        f"{times.frames} frames at {times.fps():.1f} fps into {args.output} "
        f"({times.steady_fps():.1f} fps after the first frame, which took "
        f"{1000 * times.first_frame:.0f} ms)"
    )
    print(f"ms per frame: {stages}")
    return 0


def _ar_camera(ar: Any, index: int) -> int:
    """Live preview of a webcam with the effect; q or Esc quits."""
    import cv2

    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        print(f"morph3d: error: cannot open camera {index}", file=sys.stderr)
        return 2
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


def _add_smoothing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smooth", default="vertices", choices=["vertices", "params", "none"],
        help="where the 1€ filter runs (default: vertices)",
    )  # fmt: skip
    parser.add_argument("--min-cutoff", type=float, help="1€ filter cut-off at rest, Hz")
    parser.add_argument("--beta", type=float, help="1€ filter speed coefficient")
    parser.add_argument("--detector", default="ultralight", choices=["ultralight", "yunet"])
    parser.add_argument("--weights", type=Path, help="network (.onnx, default: shipped x1.0)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``morph3d`` command."""
    parser = argparse.ArgumentParser(prog="morph3d", description=__doc__)
    parser.add_argument("--version", action="version", version=f"morph3d {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="describe the installed morphable model")
    info.add_argument("--model", help="model file (default: $MORPH3D_HOME or ~/.cache/morph3d)")
    info.set_defaults(run=_info)

    evaluate = commands.add_parser("evaluate", help="landmark NME on an annotated dataset")
    evaluate.add_argument("--dataset", required=True, choices=sorted(_DATASETS))
    evaluate.add_argument("--root", required=True, type=Path, help="dataset folder (or XML)")
    evaluate.add_argument(
        "--crop", default="gt", choices=["gt", "detector"],
        help="crop from the ground-truth landmarks, or from a face detector's box",
    )  # fmt: skip
    evaluate.add_argument("--detector", default="ultralight", choices=["ultralight", "yunet"])
    evaluate.add_argument("--refine", type=int, default=0, help="re-crop passes from predictions")
    evaluate.add_argument("--json", required=True, type=Path, help="output report")
    evaluate.add_argument("--weights", type=Path, help="network weights (default: shipped x1.0)")
    evaluate.add_argument("--model", type=Path, help="morphable model (default: the cache)")
    evaluate.add_argument("--plot", type=Path, help="CED curves PNG")
    evaluate.add_argument("--compare", type=Path, nargs="*", help="other reports on the plot")
    evaluate.add_argument("--label", help="this run's name on the plot")
    evaluate.add_argument("--split", default="all", choices=["all", "train", "val"])
    evaluate.add_argument("--val-fraction", type=float, default=0.1)
    evaluate.add_argument("--device", default="cpu")
    evaluate.set_defaults(run=_evaluate)

    export = commands.add_parser("export", help="export trained weights to ONNX, checked")
    export.add_argument("--weights", type=Path, help="state dict (default: shipped x1.0)")
    export.add_argument("-o", "--output", type=Path, help="ONNX file (default: beside weights)")
    export.add_argument("--input-size", type=int, default=120)
    export.add_argument("--model", type=Path, help="morphable model (default: the cache)")
    export.set_defaults(run=_export)

    rebuild = commands.add_parser("reconstruct", help="3D face meshes from photos")
    rebuild.add_argument("images", nargs="+", type=Path)
    rebuild.add_argument("-o", "--out", required=True, type=Path, help="output folder")
    rebuild.add_argument("--format", default="obj", choices=["obj", "ply", "glb"])
    rebuild.add_argument("--box", help="x0,y0,x1,y1: use this face box instead of detection")
    rebuild.add_argument("--weights", type=Path, help="network (.onnx, or .pt with torch)")
    rebuild.add_argument("--detector", default="ultralight", choices=["ultralight", "yunet"])
    rebuild.add_argument("--runtime", default="onnx", choices=["onnx", "torch"])
    rebuild.add_argument("--refine", type=int, default=0, help="re-crop passes")
    rebuild.set_defaults(run=_reconstruct)

    bench = commands.add_parser("bench", help="time every stage of reconstruction")
    bench.add_argument("--json", type=Path, help="write the figures here")
    bench.add_argument("--photos", type=Path, nargs="*", help="default: ../shared/data/photos")
    bench.add_argument("--weights", type=Path, nargs="*", help="default: assets/models/*.onnx")
    bench.add_argument("--repeats", type=int, default=50)
    bench.add_argument("--threads", type=int, default=2)
    bench.set_defaults(run=_bench)

    track = commands.add_parser("track", help="track faces through a video")
    track.add_argument("video", type=Path)
    track.add_argument("-o", "--output", required=True, type=Path, help="annotated video")
    track.add_argument("--json", type=Path, help="per-frame faces (id, box, landmarks, pose)")
    _add_smoothing_options(track)
    track.set_defaults(run=_track)

    ar = commands.add_parser("ar", help="3D effects on the faces of a video, image or webcam")
    ar.add_argument("input", nargs="?", type=Path, help="video (.mp4, ...) or image")
    ar.add_argument("--effect", default="dog", help="dog, glasses, hat, or an effect's .glb")
    ar.add_argument("-o", "--output", type=Path, help="output video, or PNG for an image")
    ar.add_argument("--camera", type=int, help="live preview of webcam N (needs a display)")
    ar.add_argument(
        "--shading", default="baked", choices=["baked", "pbr"],
        help="per-vertex lighting (fast on a CPU) or pyrender's PBR shader (better on a GPU)",
    )  # fmt: skip
    _add_smoothing_options(ar)
    ar.set_defaults(run=_ar)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except Morph3DError as error:
        print(f"morph3d: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
