"""Copy the face-detector weights into morph3d's cache (``$MORPH3D_HOME/detectors``).

    python scripts/prepare_detectors.py [--source ../shared/data/detectors]

The Ultra-Light models list their weights among the graph inputs, which stops ONNX Runtime from
folding constants (and makes it print a warning per weight); they are rewritten without them
and without the initializers no node reads. (Converting them from opset 9 to 13 gave the same
outputs and, timed in turn in one process, the same speed: 2.20 against 2.23 ms for RFB-320 on
2 cores; so they keep their opset.) YuNet and the license are copied as they are. Files already
up to date are left alone.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

import onnx

from morph3d.files import atomic_path
from morph3d.paths import SHARED_DATA, detectors_dir

ULTRA_LIGHT = ("version-RFB-320.onnx", "version-RFB-640.onnx", "version-slim-320.onnx")
AS_IS = ("face_detection_yunet.onnx", "ultra_light_LICENSE")
#: Bumped whenever the rewriting changes, so that a cache made before is made again.
FORMAT = 3


def default_source() -> Path:
    """``../shared/data/detectors`` beside the repository."""
    return SHARED_DATA / "detectors"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=default_source())
    parser.add_argument("--out", type=Path, help="target folder (default: the cache)")
    args = parser.parse_args(argv)
    out = args.out or detectors_dir()
    missing = [n for n in (*ULTRA_LIGHT, *AS_IS) if not (args.source / n).is_file()]
    if missing:
        print(f"prepare_detectors: {args.source} lacks {', '.join(missing)}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / "SOURCES"
    sources = f"format {FORMAT}\n" + "\n".join(
        f"{n} {_digest(args.source / n)}" for n in (*ULTRA_LIGHT, *AS_IS)
    )
    if stamp.is_file() and stamp.read_text() == sources:
        print(f"prepare_detectors: {out} is up to date")
        return 0
    for name in ULTRA_LIGHT:
        graph = onnx.load(str(args.source / name))
        weights = {initializer.name for initializer in graph.graph.initializer}
        inputs = [item for item in graph.graph.input if item.name not in weights]
        del graph.graph.input[:]
        graph.graph.input.extend(inputs)
        used = {name for node in graph.graph.node for name in node.input}
        unused = [item for item in graph.graph.initializer if item.name not in used]
        for item in unused:  # BatchNorm step counters: ONNX Runtime warns about each one
            graph.graph.initializer.remove(item)
        onnx.checker.check_model(graph)
        with atomic_path(out / name) as temporary:
            onnx.save(graph, str(temporary))
    for name in AS_IS:
        with atomic_path(out / name) as temporary:
            shutil.copyfile(args.source / name, temporary)
    with atomic_path(stamp) as temporary:
        temporary.write_text(sources)
    print(f"prepare_detectors: wrote {len(ULTRA_LIGHT) + len(AS_IS)} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
