"""The seed README's XOR example, run as written; only the import lines are new.

python examples/xor.py
"""

import numpy as np

from scratchnet_core import Model as model
from scratchnet_core.layers import linear
from scratchnet_core.optimizers import SGD

# XOR Dataset
X = np.random.randn(500, 2)  # noqa: NPY002 - as the seed wrote it
Y = np.logical_xor(X[:, 0] > 0, X[:, 1] > 0).astype(int)

# Model definition
# fmt: off
trainable_model = model([
    linear(2, 32, "relu"),
    linear(32, 32, "relu"),
    linear(32, 1, "sigmoid")
], "binary_cross_entropy", SGD(0.001), batch_size=100, X=X, Y=Y, epochs=10000)

trainable_model.train()
# fmt: on

X_test = np.random.randn(1000, 2)  # noqa: NPY002
Y_test = np.logical_xor(X_test[:, 0] > 0, X_test[:, 1] > 0).astype(int)
print("held-out:", trainable_model.evaluate(X_test, Y_test))
