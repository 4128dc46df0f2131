"""Write a tiny ONNX image classifier without the ``onnx`` package (a minimal protobuf encoder).

The model: ``Conv(3x3, 4 filters) -> Relu -> GlobalAveragePool -> Flatten -> Gemm`` over a
``(1, C, S, S)`` float input, giving one logit per label. Field numbers follow ``onnx.proto``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FLOAT = 1  # TensorProto.FLOAT
ATTR_INTS = 7  # AttributeProto.INTS


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _key(field, 2) + _varint(len(data)) + data


def _tensor(name: str, array: np.ndarray) -> bytes:
    dims = b"".join(_int(1, d) for d in array.shape)
    raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
    return dims + _int(2, FLOAT) + _bytes(8, name) + _bytes(9, raw)


def _value_info(name: str, shape: tuple[int, ...]) -> bytes:
    dims = b"".join(_bytes(1, _int(1, d)) for d in shape)
    tensor_type = _int(1, FLOAT) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def _node(op: str, inputs: list[str], outputs: list[str], **ints: list[int]) -> bytes:
    body = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
    body += _bytes(4, op)
    for name, values in ints.items():
        attr = _bytes(1, name) + b"".join(_int(8, v) for v in values) + _int(20, ATTR_INTS)
        body += _bytes(5, attr)
    return body


def write_tiny_classifier(
    path: Path,
    num_labels: int,
    channels: int = 1,
    side: int = 48,
    metadata: dict[str, str] | None = None,
    seed: int = 0,
) -> Path:
    """Write the model to ``path`` and return it."""
    rng = np.random.default_rng(seed)
    weights = {
        "conv_w": rng.normal(size=(4, channels, 3, 3)).astype(np.float32),
        "conv_b": np.zeros(4, dtype=np.float32),
        "fc_w": rng.normal(size=(4, num_labels)).astype(np.float32),
        "fc_b": rng.normal(size=(num_labels,)).astype(np.float32),
    }
    nodes = [
        _node("Conv", ["x", "conv_w", "conv_b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        _node("Relu", ["c"], ["r"]),
        _node("GlobalAveragePool", ["r"], ["p"]),
        _node("Flatten", ["p"], ["f"]),
        _node("Gemm", ["f", "fc_w", "fc_b"], ["logits"]),
    ]
    graph = b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "tiny_fer")
    graph += b"".join(_bytes(5, _tensor(name, a)) for name, a in weights.items())
    graph += _bytes(11, _value_info("x", (1, channels, side, side)))
    graph += _bytes(12, _value_info("logits", (1, num_labels)))
    model = _int(1, 8) + _bytes(2, "attune-tests") + _bytes(7, graph)
    model += _bytes(8, _bytes(1, "") + _int(2, 13))
    for key, value in (metadata or {}).items():
        model += _bytes(14, _bytes(1, key) + _bytes(2, value))
    path.write_bytes(model)
    return path
