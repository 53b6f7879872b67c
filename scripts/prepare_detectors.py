"""Copy the face-detector weights into morph3d's cache (``$MORPH3D_HOME/detectors``).

    python scripts/prepare_detectors.py [--source ../shared/data/detectors]

The Ultra-Light models list their weights among the graph inputs, which stops ONNX Runtime from
folding constants (and makes it print a warning per weight); they are rewritten without them
and without the initializers no node reads. Their graphs end by decoding box offsets against
prior boxes made for one input size (320x240 or 640x480): the rewritten graphs stop before that,
at the face scores and the raw ``offsets``, and take any input size, so that
:class:`~morph3d.detection.ultralight.UltraLightDetector` can run them smaller (it makes the
priors and decodes the few boxes it keeps; the original size is kept in the metadata as
``input_size``). (Converting them from opset 9 to 13 gave the same
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
import onnx.utils

from morph3d.files import atomic_path
from morph3d.paths import SHARED_DATA, detectors_dir

ULTRA_LIGHT = ("version-RFB-320.onnx", "version-RFB-640.onnx", "version-slim-320.onnx")
AS_IS = ("face_detection_yunet.onnx", "ultra_light_LICENSE")
#: Bumped whenever the rewriting changes, so that a cache made before is made again.
FORMAT = 4


def default_source() -> Path:
    """``../shared/data/detectors`` beside the repository."""
    return SHARED_DATA / "detectors"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def cut_decoding(model: onnx.ModelProto) -> onnx.ModelProto:
    """The Ultra-Light graph up to its ``scores`` and raw box ``offsets``, with a free input
    size; the fixed size it was made for goes into its metadata as ``input_size`` (``WxH``)."""
    nodes = list(model.graph.node)
    softmax = next(k for k, node in enumerate(nodes) if node.op_type == "Softmax")
    offsets = next(node for node in nodes[softmax:] if node.op_type == "Slice").input[0]
    scores = nodes[softmax].output[0]
    height, width = (d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[2:])
    inferred = onnx.shape_inference.infer_shapes(model)
    inputs = [model.graph.input[0].name]
    cut = onnx.utils.Extractor(inferred).extract_model(inputs, [scores, offsets])
    for node in cut.graph.node:  # name the offsets: nothing inside the cut graph reads them
        node.output[:] = ["offsets" if name == offsets else name for name in node.output]
    del cut.graph.value_info[:]  # the shapes inferred for the old size
    del cut.graph.output[:]
    cut.graph.output.extend(
        onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [1, "priors", size])
        for name, size in ((scores, 2), ("offsets", 4))
    )
    dims = cut.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    cut.metadata_props.add(key="input_size", value=f"{width}x{height}")
    return cut


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
        graph = cut_decoding(graph)
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
