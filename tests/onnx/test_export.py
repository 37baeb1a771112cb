"""Exports of every std and extras component, run in ONNX Runtime against Model.predict.

Tolerances (scratchnet_onnx.TOLERANCES): max |onnx - predict| / max |predict| at most 1e-5
for float32 models and 1e-10 for float64 ones. Where ONNX Runtime's CPU provider has no
float64 kernel (Conv, AveragePool, Erf), the float64 export is checked to be valid ONNX and
verification to say so.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

import scratchnet_core as sn
from scratchnet_onnx import (
    DEFAULT_OPSET,
    UnsupportedByRuntimeError,
    VerificationError,
    export,
    max_opset,
    to_onnx,
    verify,
)

from .helpers import train_briefly

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
L = sn.get_layers()
DTYPES = ["float32", "float64"]


# ---------------------------------------------------------------------------- the MLPs


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_with_every_std_activation(roundtrip, dtype: str) -> None:
    layers = [
        L["linear"](6, 8, "identity"),
        L["dense"](8, 8, "relu"),
        L["linear"](8, 8, {"name": "leaky_relu", "config": {"negative_slope": 0.2}}),
        L["linear"](8, 8, "sigmoid"),
        L["linear"](8, 8, "linear"),  # the identity activation's alias
        L["linear"](8, 8, "tanh", bias=False),
        L["linear"](8, 5, "softmax"),
    ]
    model = sn.Model(layers, "cross_entropy", "adam", dtype=dtype)
    train_briefly(model, (6,))
    report = roundtrip(model)  # input shape from training
    assert report.ok and report.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_with_every_extras_activation_and_layer(roundtrip, dtype: str) -> None:
    gelu = "gelu" if dtype == "float32" else {"name": "gelu", "config": {"approximate": "tanh"}}
    layers = [
        L["linear"](6, 10, gelu),
        L["batch_norm"](10),
        L["dropout"](0.3),
        L["linear"](10, 10, "silu"),
        L["batch_norm1d"](10, affine=False),
        L["linear"](10, 10, "swish"),
        L["layer_norm"](10),
        L["linear"](10, 10, {"name": "elu", "config": {"alpha": 0.7}}),
        L["layer_norm"](10, elementwise_affine=False),
        L["linear"](10, 10, "softplus"),
        L["linear"](10, 3, {"name": "softplus", "config": {"beta": 2.0, "threshold": 3.0}}),
    ]
    model = sn.Model(layers, "mse", "adam", dtype=dtype)
    train_briefly(model, (6,))
    stats = model.buffers()["1.running_mean"]
    assert np.abs(stats).max() > 0.05  # the running statistics are not the initial zeros
    assert roundtrip(model).ok


def test_softplus_threshold_is_exact_in_float64(roundtrip) -> None:
    # beyond the threshold softplus is x itself: large inputs check the Where branch
    model = sn.Model([L["linear"](2, 2, "softplus")], "mse", dtype="float64")
    model.layers[0].parameters()["weight"][...] = [[40.0, -40.0], [15.0, 1.0]]
    assert roundtrip(model, (2,)).ok


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("opset", [13, 19, 20, 21])
def test_gelu_formula_before_opset_20_and_operator_after(
    roundtrip, approximate: str, opset: int
) -> None:
    gelu = {"name": "gelu", "config": {"approximate": approximate}}
    model = sn.Model([L["linear"](4, 6, gelu), L["linear"](6, 2)], "mse")
    ops = {n.op_type for n in to_onnx(model, (4,), opset).graph.node}
    assert ("Gelu" in ops) == (opset >= 20)
    assert roundtrip(model, (4,), opset).ok


def test_float64_exact_gelu_is_valid_onnx_that_onnx_runtime_cannot_run(tmp_path: Path) -> None:
    model = sn.Model([L["linear"](4, 3, "gelu")], "mse", dtype="float64")
    proto = export(model, tmp_path / "m.onnx", input_shape=(4,))
    onnx.checker.check_model(proto, full_check=True)
    with pytest.raises(UnsupportedByRuntimeError, match=r"no float64 kernel for Erf"):
        verify(model, proto)


# ---------------------------------------------------------------------------- CNNs


def digits_cnn_layers() -> list[sn.Layer]:
    config = tomllib.loads((ROOT / "examples" / "digits_cnn.toml").read_text())
    layers = []
    for spec in config["model"]["layers"]:
        kwargs = {k: v for k, v in spec.items() if k != "type"}
        layers.append(L[spec["type"]](**kwargs))
    return layers


def test_digits_cnn(roundtrip) -> None:
    model = sn.Model(digits_cnn_layers(), "categorical_cross_entropy", "adam")
    train_briefly(model, (1, 8, 8))
    assert model.input_shape == (1, 8, 8)
    report = roundtrip(model)
    assert report.ok


def test_digits_cnn_float64_says_onnx_runtime_lacks_a_double_conv(tmp_path: Path) -> None:
    model = sn.Model(digits_cnn_layers(), "categorical_cross_entropy", dtype="float64")
    path = tmp_path / "cnn64.onnx"
    export(model, path, input_shape=(1, 8, 8))
    assert onnx.load(path).graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    with pytest.raises(UnsupportedByRuntimeError) as info:
        verify(model, path)
    message = str(info.value)
    assert "no float64 kernel for Conv" in message and "layer 0" in message
    assert "valid ONNX" in message and "float32" in message


def test_cnn_with_extras_layers(roundtrip) -> None:
    layers = [
        L["conv1d"](2, 4, 3, padding=1),
        L["batch_norm"](4),  # (N, C, L)
        L["max_pool"](2),
        L["flatten"](),
        L["linear"](16, 3),
    ]
    model = sn.Model(layers, "mse", "adam")
    train_briefly(model, (2, 8))
    assert roundtrip(model).ok
    layers = [
        L["conv2d"](1, 4, 3, padding="same", activation="elu"),
        L["batch_norm2d"](4),
        L["dropout"](0.5),
        L["global_avg_pool"](),
        L["linear"](4, 2, "softmax"),
    ]
    model = sn.Model(layers, "cross_entropy", "adam")
    train_briefly(model, (1, 6, 6))
    assert np.abs(model.buffers()["1.running_var"] - 1).max() > 1e-3
    assert roundtrip(model).ok


CONV_CASES = [
    ("conv1d", (3, 11), dict(kernel_size=3)),
    ("conv1d", (3, 11), dict(kernel_size=4, padding="same", dilation=2)),
    ("conv1d", (3, 11), dict(kernel_size=3, stride=2, padding=2, bias=False)),
    ("conv2d", (2, 9, 8), dict(kernel_size=3, padding=1)),
    ("conv2d", (2, 9, 8), dict(kernel_size=(2, 3), padding="same")),
    ("conv2d", (2, 9, 8), dict(kernel_size=3, stride=(2, 1), padding=(1, 2), dilation=(1, 2))),
    ("conv2d", (2, 9, 8), dict(kernel_size=2, padding="valid", activation="tanh")),
    ("conv3d", (2, 5, 6, 7), dict(kernel_size=3, padding=1)),
    ("conv3d", (2, 5, 6, 7), dict(kernel_size=(2, 3, 2), stride=2, dilation=(1, 1, 2))),
    ("conv3d", (2, 5, 6, 7), dict(kernel_size=2, padding="same", activation="relu")),
]


@pytest.mark.parametrize(("name", "shape", "kwargs"), CONV_CASES)
def test_convolution_variants(roundtrip, name: str, shape: tuple[int, ...], kwargs) -> None:
    kernel = kwargs.pop("kernel_size")
    layer = L[name](shape[0], 3, kernel, **kwargs)
    layer.parameters()["weight"][...] = np.random.default_rng(1).normal(
        size=layer.parameters()["weight"].shape
    )
    if "bias" in layer.parameters():
        layer.parameters()["bias"][...] = [0.5, -1.0, 2.0]
    assert roundtrip(sn.Model([layer], "mse"), shape).ok


POOL_CASES = [
    ("max_pool", (3, 11), dict(kernel_size=2)),
    ("max_pool1d", (3, 11), dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool2d", (2, 9, 8), dict(kernel_size=2)),
    ("max_pool2d", (2, 9, 8), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))),
    ("max_pool3d", (2, 5, 6, 7), dict(kernel_size=2, stride=1)),
    ("max_pool3d", (2, 5, 6, 7), dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool", (3, 11), dict(kernel_size=2)),
    ("avg_pool1d", (3, 11), dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool2d", (2, 9, 8), dict(kernel_size=3, stride=1, padding=1)),
    ("avg_pool2d", (2, 9, 8), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 0))),
    ("avg_pool3d", (2, 5, 6, 7), dict(kernel_size=2)),
    ("avg_pool3d", (2, 5, 6, 7), dict(kernel_size=3, stride=2, padding=1)),
    ("global_avg_pool", (3, 11), {}),
    ("global_avg_pool", (2, 9, 8), {}),
    ("global_avg_pool", (2, 5, 6, 7), {}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "shape", "kwargs"), POOL_CASES)
def test_pooling_variants(roundtrip, name: str, shape, kwargs, dtype: str) -> None:
    # odd sizes: windows that do not tile the input exactly (outputs round down, as ceil_mode=0)
    model = sn.Model([L[name](**kwargs)], "mse", dtype=dtype)
    if dtype == "float64" and name.startswith("avg_pool"):
        with pytest.raises(UnsupportedByRuntimeError, match="AveragePool"):
            roundtrip(model, shape)
        return
    assert roundtrip(model, shape).ok


def test_float64_convolution_is_exported_but_onnx_runtime_cannot_run_it(tmp_path: Path) -> None:
    model = sn.Model([L["conv2d"](1, 2, 3)], "mse", dtype="float64")
    proto = export(model, tmp_path / "c.onnx", input_shape=(1, 5, 5))
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    with pytest.raises(UnsupportedByRuntimeError, match="Conv"):
        verify(model, proto)


# ---------------------------------------------------------------------------- the graph


def test_graph_names_dtype_and_dynamic_batch(tmp_path: Path) -> None:
    model = sn.Model([L["conv2d"](1, 2, 3), L["flatten"](), L["linear"](18, 4)], "mse")
    proto = export(model, tmp_path / "m.onnx", input_shape=(1, 5, 5))
    (graph_input,), (graph_output,) = proto.graph.input, proto.graph.output

    def dims(value):
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    assert (graph_input.name, dims(graph_input)) == ("input", ["batch", 1, 5, 5])
    assert (graph_output.name, dims(graph_output)) == ("output", ["batch", 4])
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert {i.name for i in proto.graph.initializer} == set(model.parameters())
    assert proto.opset_import[0].version == DEFAULT_OPSET
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["scratchnet.dtype"] == "float32" and props["scratchnet.input_shape"] == "[1, 5, 5]"
    assert verify(model, tmp_path / "m.onnx", batch_sizes=(1, 3, 64)).ok


def test_every_opset_from_13_to_the_newest_runs(roundtrip) -> None:
    model = sn.Model(
        [L["conv1d"](2, 3, 3), L["global_avg_pool"](), L["linear"](3, 4, "gelu")], "mse"
    )
    for opset in range(13, max_opset() + 1):
        try:
            report = roundtrip(model, (2, 7), opset)
        except VerificationError as exc:  # an onnx newer than the installed ONNX Runtime
            if opset > 21 and "opset" in str(exc).lower():
                break
            raise
        assert report.ok, opset


def test_identity_only_model_has_an_output_node(roundtrip) -> None:
    model = sn.Model([L["dropout"](0.5), L["flatten"]()], "mse")
    assert roundtrip(model, (3,)).ok
    model = sn.Model([L["dropout"](0.5)], "mse")
    assert roundtrip(model, (3, 2)).ok


def test_float64_normalisation_keeps_a_float64_epsilon(roundtrip) -> None:
    # variances near eps: a float32 epsilon (ONNX attributes) would cost 1e-9 relative here
    batch_norm = L["batch_norm"](3, eps=1e-3)
    batch_norm.buffers()["running_var"][...] = [1e-6, 2e-3, 1.0]
    batch_norm.buffers()["running_mean"][...] = [0.5, -0.1, 2.0]
    layers = [L["linear"](2, 3), batch_norm, L["layer_norm"](3, eps=0.1)]
    model = sn.Model(layers, "mse", dtype="float64")
    model.layers[0].parameters()["weight"][...] *= 1e-2
    for opset in (17, 18):
        assert roundtrip(model, (2,), opset).relative_error < 1e-13
