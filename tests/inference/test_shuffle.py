from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from morph3d.inference.shuffle import gather_shuffles, gather_shuffles_file  # noqa: E402

CHANNELS, SIDE = 8, 3


def _shuffle_graph(halves: bool, quantized: bool) -> onnx.ModelProto:
    """x (1, 8, 3, 3) -> [Q/DQ] Reshape (1, 2, 4, 3, 3) -> [Q/DQ] Transpose -> [Q/DQ] Reshape back
    -> either the two channel halves (Slice) or a Relu, as ShuffleNetV2 exports."""
    nodes: list = []
    inits = [
        numpy_helper.from_array(np.array([1, 2, CHANNELS // 2, SIDE, SIDE], np.int64), "split5"),
        numpy_helper.from_array(np.array([1, CHANNELS, SIDE, SIDE], np.int64), "join4"),
        numpy_helper.from_array(np.array(0.05, np.float32), "scale"),
        numpy_helper.from_array(np.array(128, np.uint8), "zero"),
    ]

    def pair(name: str) -> str:  # a quantize-dequantize pair after `name`, as int8 graphs have
        if not quantized:
            return name
        small, restored = name + "_q", name + "_dq"
        nodes.append(helper.make_node("QuantizeLinear", [name, "scale", "zero"], [small]))
        nodes.append(helper.make_node("DequantizeLinear", [small, "scale", "zero"], [restored]))
        return restored

    x = pair("x")
    nodes.append(helper.make_node("Reshape", [x, "split5"], ["r1"]))
    nodes.append(helper.make_node("Transpose", [pair("r1")], ["t"], perm=[0, 2, 1, 3, 4]))
    nodes.append(helper.make_node("Reshape", [pair("t"), "join4"], ["r2"]))
    shuffled = pair("r2")
    if halves:
        for k, (start, stop) in enumerate([(0, CHANNELS // 2), (CHANNELS // 2, CHANNELS)]):
            for name, value in [("starts", start), ("ends", stop), ("axes", 1)]:
                inits.append(numpy_helper.from_array(np.array([value], np.int64), f"{name}{k}"))
            bounds = [shuffled, f"starts{k}", f"ends{k}", f"axes{k}"]
            nodes.append(helper.make_node("Slice", bounds, [f"half{k}"]))
        outputs = [pair("half0"), pair("half1")]
    else:
        nodes.append(helper.make_node("Relu", [shuffled], ["relu"]))
        outputs = ["relu"]
    out_shape = [1, CHANNELS // 2 if halves else CHANNELS, SIDE, SIDE]
    graph = helper.make_graph(
        nodes,
        "shuffle",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, CHANNELS, SIDE, SIDE])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, out_shape) for name in outputs],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime

    cpu = ["CPUExecutionProvider"]
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=cpu)
    return session.run(None, {"x": x})


def _input() -> np.ndarray:
    return np.random.default_rng(0).uniform(-3, 3, (1, CHANNELS, SIDE, SIDE)).astype(np.float32)


@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("halves", [False, True])
def test_gathers_give_the_same_outputs(halves: bool, quantized: bool) -> None:
    model = _shuffle_graph(halves, quantized)
    x = _input()
    before = _run(model, x)
    assert gather_shuffles(model) == 1
    onnx.checker.check_model(model)
    operators = [node.op_type for node in model.graph.node]
    assert "Transpose" not in operators and "Reshape" not in operators and "Slice" not in operators
    assert operators.count("Gather") == (2 if halves else 1)
    after = _run(model, x)
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)
    assert gather_shuffles(model) == 0  # nothing left to rewrite


def test_the_shuffle_order() -> None:
    # shuffled channel 2i + g is channel g * C/2 + i: the two halves interleaved
    x = _input()
    (whole,) = _run(_shuffle_graph(halves=False, quantized=False), x)
    order = [0, 4, 1, 5, 2, 6, 3, 7]
    np.testing.assert_array_equal(whole, np.maximum(x[:, order], 0))
    model = _shuffle_graph(halves=True, quantized=False)
    gather_shuffles(model)
    first, second = _run(model, x)
    np.testing.assert_array_equal(first, x[:, order[:4]])
    np.testing.assert_array_equal(second, x[:, order[4:]])


def test_a_graph_without_shuffles_is_left_alone() -> None:
    model = _shuffle_graph(halves=False, quantized=False)
    model.graph.node[1].attribute[0].ints[:] = [0, 1, 2, 4, 3]  # a different transpose
    text = model.SerializeToString()
    assert gather_shuffles(model) == 0
    assert model.SerializeToString() == text


def test_file_copy_is_checked_and_leaves_the_source(tmp_path: Path) -> None:
    source = tmp_path / "net.onnx"
    onnx.save(_shuffle_graph(halves=True, quantized=True), str(source))
    original = source.read_bytes()
    assert gather_shuffles_file(source, tmp_path / "out" / "net.onnx") == 1
    assert source.read_bytes() == original
    copy = onnx.load(str(tmp_path / "out" / "net.onnx"))
    assert "Transpose" not in {node.op_type for node in copy.graph.node}
    assert [p.name for p in tmp_path.joinpath("out").iterdir()] == ["net.onnx"]  # no temporaries


def test_shipped_regressors_have_no_shuffle_left() -> None:
    from morph3d.paths import DEFAULT_ONNX_WEIGHTS, SPECIALIST_ONNX_WEIGHTS, weights_path

    for name in (DEFAULT_ONNX_WEIGHTS, SPECIALIST_ONNX_WEIGHTS):
        model = onnx.load(str(weights_path(None, name)))
        assert gather_shuffles(model) == 0
        assert sum(node.op_type == "Gather" for node in model.graph.node) == 29


def test_slices_counted_from_the_end() -> None:
    model = _shuffle_graph(halves=True, quantized=False)
    for tensor in model.graph.initializer:
        if tensor.name == "starts1":  # the second half as [-4:], as a tracer may write it
            tensor.CopyFrom(
                numpy_helper.from_array(np.array([-CHANNELS // 2], np.int64), "starts1")
            )
    x = _input()
    before = _run(model, x)
    assert gather_shuffles(model) == 1
    for old, new in zip(before, _run(model, x), strict=True):
        np.testing.assert_array_equal(old, new)


def test_a_shuffle_whose_inner_tensor_is_read_elsewhere_is_left_alone() -> None:
    model = _shuffle_graph(halves=False, quantized=False)
    model.graph.node.append(helper.make_node("Relu", ["r1"], ["r1_relu"]))  # reads the 5-D tensor
    model.graph.output.append(
        helper.make_tensor_value_info(
            "r1_relu", TensorProto.FLOAT, [1, 2, CHANNELS // 2, SIDE, SIDE]
        )
    )
    assert gather_shuffles(model) == 0
    onnx.checker.check_model(model)
