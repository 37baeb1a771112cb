"""scratchnet: a NumPy deep-learning framework built as a plugin registry.

This package is the core: the interfaces, the registry, the hooks and the model. Every
concrete activation, cost, layer, optimizer, initializer and convolution backend is a plugin
found through entry points (the standard set ships in ``scratchnet-std``).

>>> import scratchnet_core as sn
>>> "relu" in sn.get_activation_functions()
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._conv_default import conv_backend, current_conv_backend, set_conv_backend
from ._random import get_rng, seed
from .errors import (
    BackwardError,
    ConfigurationError,
    DataError,
    InterfaceError,
    MissingPluginError,
    ModelFileError,
    OptionalDependencyError,
    PluginConflictError,
    PluginLoadError,
    PluginNotFoundError,
    ScratchnetError,
    ShapeError,
    TrainingDivergedError,
)
from .hookspecs import hookimpl, hookspec
from .initializers import constant, initialize_weights
from .interfaces import (
    ActivationFunction,
    ConvBackend,
    CostFunction,
    Layer,
    Metric,
    Optimizer,
)
from .model import History, Model
from .registry import get_registry, refresh, register

__version__ = "0.1.0"

__all__ = [
    "ActivationFunction",
    "BackwardError",
    "ConfigurationError",
    "ConvBackend",
    "CostFunction",
    "DataError",
    "History",
    "InterfaceError",
    "MissingPluginError",
    "Layer",
    "Metric",
    "Model",
    "ModelFileError",
    "OptionalDependencyError",
    "Optimizer",
    "PluginConflictError",
    "PluginLoadError",
    "PluginNotFoundError",
    "ScratchnetError",
    "ShapeError",
    "TrainingDivergedError",
    "constant",
    "conv_backend",
    "current_conv_backend",
    "get_activation_functions",
    "get_conv_backends",
    "get_cost_functions",
    "get_datasets",
    "get_initializers",
    "get_layers",
    "get_metrics",
    "get_optimizers",
    "get_registry",
    "get_rng",
    "hookimpl",
    "hookspec",
    "initialize_weights",
    "refresh",
    "register",
    "seed",
    "set_conv_backend",
]


def get_activation_functions() -> Mapping[str, type[ActivationFunction]]:
    """The installed activation functions by name (``relu``, ``sigmoid``, ``softmax``, ...).

    >>> import scratchnet_core as sn
    >>> sn.get_activation_functions()["ReLU"].__name__
    'ReLU'
    """
    return get_registry("activations")


def get_cost_functions() -> Mapping[str, type[CostFunction]]:
    """The installed cost functions by name (``mse``, ``binary_cross_entropy``, ...).

    >>> import scratchnet_core as sn
    >>> sn.get_cost_functions()["mse"] is sn.get_cost_functions()["mean_squared_error"]
    True
    """
    return get_registry("costs")


def get_optimizers() -> Mapping[str, type[Optimizer]]:
    """The installed optimizers by name (``sgd``, ...).

    >>> import scratchnet_core as sn
    >>> sn.get_optimizers()["SGD"](lr=0.1)
    SGD(lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0)
    """
    return get_registry("optimizers")


def get_layers() -> Mapping[str, type[Layer]]:
    """The installed layers by name (``linear``/``dense``, ``flatten``, ...).

    >>> import scratchnet_core as sn
    >>> sn.get_layers()["dense"](4, 2)
    Linear(4, 2)
    """
    return get_registry("layers")


def get_conv_backends() -> Mapping[str, type[ConvBackend]]:
    """The installed convolution backends by name.

    >>> import scratchnet_core as sn
    >>> sorted(n for n in sn.get_conv_backends() if n in ("auto", "direct", "fft"))
    ['auto', 'direct', 'fft']
    """
    return get_registry("conv_backends")


def get_initializers() -> Mapping[str, Any]:
    """The installed weight initializers by name (``he_normal``, ``glorot_uniform``, ...).

    >>> import numpy as np, scratchnet_core as sn
    >>> sn.get_initializers()["zeros"]((2, 3), 2, 3, np.random.default_rng(0)).shape
    (2, 3)
    """
    return get_registry("initializers")


def get_metrics() -> Mapping[str, type[Metric]]:
    """The installed metrics by name (``accuracy``, ``f1``, ``r2``, ...).

    >>> import scratchnet_core as sn
    >>> isinstance(sn.get_metrics(), Mapping)
    True
    """
    return get_registry("metrics")


def get_datasets() -> Mapping[str, Any]:
    """The installed datasets by name: callables taking keyword options and returning
    ``(X, Y)`` arrays or a dataset object (``xor``, ``spirals``, ``digits``, ``npz``, ...).

    >>> import scratchnet_core as sn
    >>> isinstance(sn.get_datasets(), Mapping)
    True
    """
    return get_registry("datasets")
