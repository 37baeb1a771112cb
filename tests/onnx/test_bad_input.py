"""Bad input to export: clear errors, raised before anything is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_onnx import (
    ConverterNotFoundError,
    ExportError,
    ExportPathError,
    OpsetError,
    export,
    max_opset,
    to_onnx,
    verify,
)

L = sn.get_layers()


class Scale(sn.Layer):
    """y = x * weight (a layer nobody wrote a converter for)."""

    def __init__(self, features, *, dtype=None):
        super().__init__(dtype=dtype)
        self.features = features
        self.add_parameter("weight", np.full(features, 2.0))

    def forward(self, x, training=False):
        return x * self._params["weight"]

    def backward(self, grad):
        return grad * self._params["weight"]

    def get_config(self):
        return {"features": self.features, **super().get_config()}

    def __repr__(self):
        return f"Scale({self.features})"


def only_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_missing_converter_names_layer_name_distribution_and_group(
    tmp_path: Path, fresh_runtime_registrations
) -> None:
    sn.register("layers", "test_scale")(Scale)
    model = sn.Model([L["linear"](3, 4, "relu"), Scale(4), L["linear"](4, 1)], "mse")
    target = tmp_path / "m.onnx"
    with pytest.raises(ConverterNotFoundError) as info:
        export(model, target, input_shape=(3,))
    message = str(info.value)
    assert "layer 1 (Scale(4)" in message and "'test_scale'" in message
    assert "<runtime>" in message and "'scratchnet.onnx_converters'" in message
    assert isinstance(info.value, sn.ScratchnetError) and isinstance(info.value, LookupError)
    assert only_files(tmp_path) == []  # nothing written, no temporary left behind


def test_missing_converter_of_an_installed_plugin_names_its_distribution(
    tmp_path: Path, make_distribution
) -> None:
    source = "import numpy as np\nimport scratchnet_core as sn\n\n\n" + (
        "class Cube(sn.ActivationFunction):\n"
        "    def forward(self, z):\n        return z ** 3\n"
        "    def backward(self, grad):\n        return grad\n"
    )
    make_distribution(
        "acme-cube",
        {"scratchnet.activations": {"cube": "acme_cube:Cube"}},
        {"acme_cube": source},
        version="2.1",
    )
    model = sn.Model([L["linear"](3, 2), L["linear"](2, 2, "cube")], "mse")
    (tmp_path / "out").mkdir()
    with pytest.raises(ConverterNotFoundError) as info:
        export(model, tmp_path / "out" / "m.onnx", input_shape=(3,))
    message = str(info.value)
    assert "layer 1.activation (Cube()" in message and "'cube'" in message
    assert "acme-cube 2.1" in message and "scratchnet.onnx_converters" in message
    assert only_files(tmp_path / "out") == []


def test_path_in_a_missing_directory(tmp_path: Path) -> None:
    model = sn.Model([L["linear"](3, 2)], "mse")
    with pytest.raises(ExportPathError, match="does not exist") as info:
        export(model, tmp_path / "no" / "such" / "m.onnx", input_shape=(3,))
    assert isinstance(info.value, OSError) and isinstance(info.value, sn.ScratchnetError)
    with pytest.raises(ExportPathError, match="is a directory"):
        export(model, tmp_path, input_shape=(3,))
    assert only_files(tmp_path) == []


def test_a_failed_export_keeps_the_previous_file(tmp_path: Path, fresh_runtime_registrations):
    target = tmp_path / "m.onnx"
    model = sn.Model([L["linear"](3, 2)], "mse")
    export(model, target, input_shape=(3,))
    before = target.read_bytes()
    sn.register("layers", "test_scale")(Scale)
    with pytest.raises(ConverterNotFoundError):
        export(sn.Model([Scale(3)], "mse"), target, input_shape=(3,))
    with pytest.raises(OpsetError):
        export(sn.Model([L["layer_norm"](3)], "mse"), target, input_shape=(3,), opset=16)
    assert target.read_bytes() == before and only_files(tmp_path) == ["m.onnx"]


def test_opset_below_what_a_component_needs_names_both(tmp_path: Path) -> None:
    model = sn.Model([L["linear"](3, 4), L["layer_norm"](4), L["linear"](4, 1)], "mse")
    with pytest.raises(OpsetError) as info:
        export(model, tmp_path / "m.onnx", input_shape=(3,), opset=16)
    message = str(info.value)
    assert "layer 1 (LayerNorm((4,))" in message and "opset 16" in message
    assert "needs opset 17" in message
    assert only_files(tmp_path) == []
    assert verify(model, to_onnx(model, (3,), opset=17)).ok  # and the opset it names works


def test_operator_missing_from_the_opset_names_component_and_operator(
    fresh_runtime_registrations,
) -> None:
    # a converter without min_opset that emits an operator newer than the opset asked for
    sn.register("layers", "test_scale")(Scale)

    def convert_scale(ctx, layer, x):
        return ctx.add_node("Gelu", [ctx.add_node("Mul", [x, ctx.parameter(layer, "weight")])])

    sn.register("onnx_converters", "test_scale")(convert_scale)
    model = sn.Model([L["linear"](2, 3), Scale(3)], "mse")
    with pytest.raises(
        OpsetError,
        match=r"layer 1 with opset 18: .*Gelu, and it exists from "
        r"opset 20",
    ):
        to_onnx(model, (2,), opset=18)
    assert to_onnx(model, (2,), opset=20).graph.node[-1].op_type == "Gelu"


@pytest.mark.parametrize("opset", [12, 0, max_opset() + 1, "18", 18.0, True])
def test_opset_out_of_range_or_not_an_integer(opset) -> None:
    model = sn.Model([L["linear"](3, 2)], "mse")
    with pytest.raises(OpsetError, match="opset"):
        to_onnx(model, (3,), opset=opset)


def test_untrained_model_needs_input_shape(tmp_path: Path) -> None:
    model = sn.Model([L["linear"](3, 2)], "mse")
    with pytest.raises(sn.ConfigurationError, match="input_shape is required"):
        export(model, tmp_path / "m.onnx")
    assert only_files(tmp_path) == []
    model.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0)
    assert export(model, tmp_path / "m.onnx").graph.input[0].name == "input"


@pytest.mark.parametrize("shape", [(0, 3), (3.0,), "3", 3, (True,), (-1,)])
def test_malformed_input_shape(shape) -> None:
    model = sn.Model([L["linear"](3, 2)], "mse")
    with pytest.raises(sn.ConfigurationError, match="input_shape"):
        to_onnx(model, shape)


def test_input_shape_the_model_cannot_take_names_the_layer(tmp_path: Path) -> None:
    model = sn.Model([L["conv2d"](1, 2, 3), L["flatten"](), L["linear"](8, 2)], "mse")
    with pytest.raises(sn.ShapeError, match="layer 2"):
        export(model, tmp_path / "m.onnx", input_shape=(1, 5, 5))
    assert only_files(tmp_path) == []


def test_converter_returning_no_name_or_an_invalid_graph(fresh_runtime_registrations) -> None:
    sn.register("layers", "test_scale")(Scale)
    model = sn.Model([Scale(3)], "mse")
    sn.register("onnx_converters", "test_scale")(lambda ctx, layer, x: None)
    with pytest.raises(TypeError, match="returns the name of its output"):
        to_onnx(model, (3,))
    sn.get_registry("onnx_converters").remove("test_scale")
    sn.register("onnx_converters", "test_scale")(
        lambda ctx, layer, x: ctx.add_node("Add", [x, "undefined_tensor"])
    )
    with pytest.raises(ExportError, match="invalid"):
        to_onnx(model, (3,))


def test_verify_refuses_a_file_of_another_model(tmp_path: Path) -> None:
    model32 = sn.Model([L["linear"](3, 2)], "mse")
    model64 = sn.Model([L["linear"](3, 2)], "mse", dtype="float64")
    export(model32, tmp_path / "m.onnx", input_shape=(3,))
    with pytest.raises(sn.ScratchnetError, match="input is tensor\\(float\\)"):
        verify(model64, tmp_path / "m.onnx")
    other = sn.Model([L["linear"](3, 2)], "mse")
    with pytest.raises(AssertionError, match=r"does not match Model\.predict"):
        verify(other, tmp_path / "m.onnx")


def test_a_converter_that_is_not_callable(fresh_runtime_registrations) -> None:
    sn.register("layers", "test_scale")(Scale)
    sn.register("onnx_converters", "test_scale")(42)
    with pytest.raises(sn.PluginLoadError, match="must be callable"):
        to_onnx(sn.Model([Scale(3)], "mse"), (3,))


def test_an_unregistered_layer_class(tmp_path: Path) -> None:
    with pytest.raises(
        ConverterNotFoundError, match=r"layer 0 \(Scale\(3\), registry name \(none\)"
    ):
        export(sn.Model([Scale(3)], "mse"), tmp_path / "m.onnx", input_shape=(3,))
