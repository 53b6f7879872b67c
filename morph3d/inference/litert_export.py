"""Writing a regressor as an int8 LiteRT network (``.tflite``) for
:class:`~morph3d.inference.litert.LiteRTSession`; needs TensorFlow (``pip install
tensorflow-cpu``), which nothing else in morph3d uses.

The network is rebuilt channels-last from its weights, batch norms folded into the
convolutions, and converted by TensorFlow Lite's post-training quantizer: int8 throughout with
the last layer (62 raw parameters, from 0.01 to 10^6 in size) left in float, as in the ONNX
Runtime copy (:func:`~morph3d.training.quantize.quantize_regressor`).

That quantizer sets each activation's int8 range from the minimum and maximum it sees in
calibration, and a few outliers widen the ranges: the landmarks moved 0.65 px from the float
network's against ONNX Runtime's copy's 0.32 (256 held-out training crops, session 25). So every
ReLU output is clipped at the percentile of its calibration values that ONNX Runtime's
percentile calibration uses (:func:`clip_levels`): the convolution in front of it is scaled by
``6 / level`` and runs with a fused ReLU6, and the layers that read it divide the scale out of
their weights, channel by channel through the concatenations and channel shuffles. The ranges
are then the percentiles', and the landmarks moved 0.26 px.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from morph3d.files import atomic_path
from morph3d.inference.network import Regressor
from morph3d.io.image import crops_to_input

__all__ = [
    "CLIP",
    "clip_levels",
    "export_litert",
    "export_refiner_litert",
    "folded_convolutions",
    "relu_levels",
]

#: The fused activation's top (ReLU6) that every clipped ReLU output is scaled to.
CLIP = 6.0


def folded_convolutions(network: Regressor) -> dict[str, tuple[np.ndarray, np.ndarray, bool]]:
    """Each convolution of the backbone with its batch norm folded in: name -> ``(weights,
    bias, relu)``, weights ``(O, I/groups, kh, kw)`` float64 as torch orders them; ``relu``
    whether a ReLU follows. Names are the torch modules' (``stage2.0.branch2.0``)."""
    backbone = network.backbone
    folded = {}
    for name, module in backbone.named_modules():
        if not isinstance(module, nn.Sequential):
            continue
        layers = list(module)
        for k, (conv, norm) in enumerate(pairwise(layers)):
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                relu = k + 2 < len(layers) and isinstance(layers[k + 2], nn.ReLU)
                folded[f"{name}.{k}"] = (*_fold(conv, norm), relu)
    return folded


def _fold(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """A convolution's float64 ``(O, I/groups, kh, kw)`` weights and ``(O,)`` bias with the
    batch norm after it folded in (its running statistics: eval mode)."""
    mean, variance = norm.running_mean, norm.running_var
    assert mean is not None and variance is not None
    scale = (norm.weight / torch.sqrt(variance + norm.eps)).double()
    weights = conv.weight.double() * scale[:, None, None, None]
    bias = norm.bias.double() - mean.double() * scale
    return weights.detach().numpy(), bias.detach().numpy()


@torch.no_grad()
def clip_levels(network: Regressor, crops: np.ndarray, percentile: float) -> dict[str, float]:
    """The ``percentile`` of each ReLU output of the float network over ``(N, S, S, 3)``
    uint8 calibration crops, by the name of the convolution in front of it
    (:func:`folded_convolutions`' names)."""
    levels: dict[str, list[np.ndarray]] = {}
    hooks = []
    for name, module in network.backbone.named_modules():
        if not isinstance(module, nn.Sequential):
            continue
        layers = list(module)
        for k, layer in enumerate(layers):
            if isinstance(layer, nn.ReLU) and k >= 2 and isinstance(layers[k - 2], nn.Conv2d):
                key = f"{name}.{k - 2}"

                def keep(_: nn.Module, __: Any, output: torch.Tensor, key: str = key) -> None:
                    levels.setdefault(key, []).append(output.flatten().numpy().copy())

                hooks.append(layer.register_forward_hook(keep))
    network.eval()
    try:
        for start in range(0, len(crops), 64):
            network(torch.from_numpy(crops_to_input(crops[start : start + 64])))
    finally:
        for hook in hooks:
            hook.remove()
    return {key: float(np.percentile(np.concatenate(parts), percentile))
            for key, parts in levels.items()}  # fmt: skip


def _builder(
    network: Regressor, levels: dict[str, float], size: int
) -> tuple[Callable[[Any], Any], np.ndarray, np.ndarray]:
    """The channels-last TensorFlow function of the clipped, rescaled backbone (NCHW float
    input -> pooled features), and the last layer's weights ``(F, 62)`` and bias with the
    features' scales divided out."""
    import tensorflow as tf

    folded = folded_convolutions(network)

    def conv(x: Any, scales: np.ndarray, name: str, stride: int = 1) -> tuple[Any, np.ndarray]:
        weights, bias, relu = folded[name]
        depthwise = weights.shape[1] == 1 and weights.shape[0] == len(scales) > 1
        if depthwise:  # (C, 1, kh, kw) -> (kh, kw, C, 1), input channel c = output channel c
            kernel = (weights / scales[:, None, None, None]).transpose(2, 3, 0, 1)
        else:  # (O, I, kh, kw) -> (kh, kw, I, O)
            kernel = (weights / scales[None, :, None, None]).transpose(2, 3, 1, 0)
        gain = CLIP / levels[name] if relu else 1.0
        if kernel.shape[0] > 1:  # torch's symmetric padding (TensorFlow's SAME is not)
            x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        kernel_t = tf.constant((kernel * gain).astype(np.float32))
        if depthwise:
            y = tf.nn.depthwise_conv2d(x, kernel_t, [1, stride, stride, 1], "VALID")
        else:
            y = tf.nn.conv2d(x, kernel_t, stride, "VALID")
        y = tf.nn.bias_add(y, tf.constant((bias * gain).astype(np.float32)))
        return (tf.nn.relu6(y) if relu else y), np.full(weights.shape[0], gain)

    def block(x: Any, scales: np.ndarray, name: str, stride: int) -> tuple[Any, np.ndarray]:
        if stride > 1:
            left, left_scales = conv(x, scales, f"{name}.branch1.0", stride)
            left, left_scales = conv(left, left_scales, f"{name}.branch1.2")
            right, right_scales = x, scales
        else:
            half = len(scales) // 2
            left, right = tf.split(x, 2, axis=-1)
            left_scales, right_scales = scales[:half], scales[half:]
        right, right_scales = conv(right, right_scales, f"{name}.branch2.0")
        right, right_scales = conv(right, right_scales, f"{name}.branch2.3", stride)
        right, right_scales = conv(right, right_scales, f"{name}.branch2.5")
        joined = tf.concat([left, right], -1)
        _, height, width, channels = joined.shape
        shuffled = tf.reshape(joined, [-1, height, width, 2, channels // 2])
        shuffled = tf.reshape(
            tf.transpose(shuffled, [0, 1, 2, 4, 3]), [-1, height, width, channels]
        )
        scales = np.concatenate([left_scales, right_scales]).reshape(2, -1).T.reshape(-1)
        return shuffled, scales

    def features(x: Any) -> tuple[Any, np.ndarray]:
        x, scales = conv(tf.transpose(x, [0, 2, 3, 1]), np.ones(3), "conv1.0", 2)
        x = tf.nn.max_pool2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, "VALID")
        for stage in ("stage2", "stage3", "stage4"):
            for index, unit in enumerate(getattr(network.backbone, stage)):
                x, scales = block(x, scales, f"{stage}.{index}", unit.stride)
        x, scales = conv(x, scales, "conv5.0")
        return tf.reduce_mean(x, [1, 2]), scales

    _, scales = features(tf.zeros([1, 3, size, size]))  # the features' scales
    fc = network.backbone.fc
    std = network.param_std.double().numpy()
    last = (fc.weight.double().detach().numpy() * std[:, None]).T / scales[:, None]
    bias = fc.bias.double().detach().numpy() * std + network.param_mean.double().numpy()
    return (lambda x: features(x)[0]), last, bias


def export_litert(
    network: Regressor,
    out: str | os.PathLike[str],
    crops: np.ndarray,
    percentile: float = 99.99,
) -> Path:
    """Write ``network`` as an int8 LiteRT file, atomically.

    Args:
        network: The regressor (put in eval mode).
        out: The ``.tflite`` file to write.
        crops: ``(N, S, S, 3)`` uint8 calibration crops
            (:func:`~morph3d.training.quantize.calibration_crops`).
        percentile: Percentile of each ReLU output's calibration values at which it is clipped
            (ONNX Runtime's copy uses the same, :data:`~morph3d.training.quantize.PERCENTILE`).

    Returns:
        The path written. The file takes ``(B, 3, S, S)`` float32 input
        (:func:`~morph3d.io.image.crops_to_input`) and gives ``(B, 62)`` raw parameters.

    Raises:
        ImportError: TensorFlow is not installed.
    """
    import tensorflow as tf

    network.eval()
    size = crops.shape[1]
    features, last, bias = _builder(network, clip_levels(network, crops, percentile), size)
    last_t = tf.constant(last.astype(np.float32))
    bias_t = tf.constant(bias.astype(np.float32))
    function = tf.function(
        lambda x: tf.matmul(features(x), last_t) + bias_t,
        input_signature=[tf.TensorSpec([1, 3, size, size], tf.float32, name="crops")],
    )
    inputs = crops_to_input(crops)

    def dataset() -> Any:
        return ([inputs[k : k + 1]] for k in range(len(inputs)))

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], function
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    # The last layer stays float: its outputs span eight orders of magnitude.
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=["FULLY_CONNECTED"])
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=dataset, debug_options=options
    )
    written = debugger.get_nondebug_quantized_model()
    with atomic_path(out) as temporary:
        Path(temporary).write_bytes(written)
    return Path(out)


@torch.no_grad()
def relu_levels(network: nn.Sequential, inputs: np.ndarray, percentile: float) -> list[float]:
    """The ``percentile`` of each ReLU's output of a sequential network over ``inputs``, in
    order (the eye and brow refiners, :func:`~morph3d.inference.eye_network.eye_network`)."""
    network.eval()
    levels = []
    x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
    for layer in network:
        x = layer(x)
        if isinstance(layer, nn.ReLU):
            levels.append(float(np.percentile(x.numpy(), percentile)))
    return levels


def export_refiner_litert(
    network: nn.Sequential,
    out: str | os.PathLike[str],
    inputs: np.ndarray,
    percentile: float = 99.99,
) -> Path:
    """Write an eye or brow refiner as an int8 LiteRT file, atomically, its ReLU outputs clipped
    at ``percentile`` of their calibration values as :func:`export_litert` clips the regressor's.

    Args:
        network: An :func:`~morph3d.inference.eye_network.eye_network` (3x3 convolutions with
            batch norm and ReLU, 2x2 max pools, a flatten, then linear layers).
        out: The ``.tflite`` file to write.
        inputs: ``(N, 1, S, S)`` float32 calibration crops
            (:func:`~morph3d.training.eyes.refiner_inputs` of training faces).
        percentile: Percentile of each ReLU output's calibration values at which it is clipped.

    Returns:
        The path written: ``(B, 1, S, S)`` float32 in (any ``B``), ``(B, 2P)`` points out.

    Raises:
        ImportError: TensorFlow is not installed.
        ValueError: a layer the rebuild does not know.
    """
    import tensorflow as tf

    network.eval()
    levels = iter(relu_levels(network, inputs, percentile))
    layers = list(network)

    def forward(x: Any) -> Any:
        t = tf.transpose(x, [0, 2, 3, 1])
        scales = np.ones(int(x.shape[1]))
        order: np.ndarray | None = None  # the flattened features' torch order, until used
        k = 0
        while k < len(layers):
            layer = layers[k]
            if isinstance(layer, nn.Conv2d):
                norm = layers[k + 1]
                if layer.stride != (1, 1) or layer.padding != (layer.kernel_size[0] // 2,) * 2:
                    raise ValueError(f"only same-size stride-1 convolutions: {layer}")
                if not isinstance(norm, nn.BatchNorm2d) or not isinstance(layers[k + 2], nn.ReLU):
                    raise ValueError("each convolution needs a batch norm and a ReLU after it")
                weights, bias = _fold(layer, norm)
                gain = CLIP / next(levels)
                kernel = (weights / scales[None, :, None, None]).transpose(2, 3, 1, 0) * gain
                t = tf.nn.conv2d(t, kernel.astype(np.float32), 1, "SAME")
                t = tf.nn.relu6(t + (bias * gain).astype(np.float32))
                scales = np.full(weights.shape[0], gain)
                k += 3
            elif isinstance(layer, nn.MaxPool2d):
                t = tf.nn.max_pool2d(t, layer.kernel_size, layer.stride, "VALID")
                k += 1
            elif isinstance(layer, nn.Flatten):
                _, height, width, channels = t.shape
                t = tf.reshape(t, [-1, height * width * channels])
                # torch flattens (C, H, W); the rows of the next layer follow (H, W, C) here
                order = np.arange(channels * height * width).reshape(channels, height, width)
                order = order.transpose(1, 2, 0).reshape(-1)
                scales = np.tile(scales, height * width)
                k += 1
            elif isinstance(layer, nn.Linear):
                weights = layer.weight.double().detach().numpy()
                if order is not None:
                    weights, order = weights[:, order], None
                relu = k + 1 < len(layers) and isinstance(layers[k + 1], nn.ReLU)
                gain = CLIP / next(levels) if relu else 1.0
                matrix = (weights / scales[None, :]).T * gain
                bias = layer.bias.double().detach().numpy() * gain
                t = tf.matmul(t, matrix.astype(np.float32)) + bias.astype(np.float32)
                t = tf.nn.relu6(t) if relu else t
                scales = np.full(weights.shape[0], gain)
                k += 2 if relu else 1
            else:
                raise ValueError(f"the LiteRT rebuild does not know {layer}")
        return t

    size = inputs.shape[-1]
    function = tf.function(
        forward, input_signature=[tf.TensorSpec([None, 1, size, size], tf.float32, name="eyes")]
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], function
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    calibration = np.ascontiguousarray(inputs, dtype=np.float32)
    converter.representative_dataset = lambda: (
        [calibration[k : k + 1]] for k in range(len(calibration))
    )
    written = converter.convert()
    with atomic_path(out) as temporary:
        Path(temporary).write_bytes(written)
    return Path(out)
