"""Standard costs: gradients (plain and fused with the output activation), stability."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.testing import check_cost

rng = np.random.default_rng(0)
COSTS = sn.get_cost_functions


def test_mse() -> None:
    y_pred, y_true = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    check_cost(COSTS()["mse"](), y_pred, y_true)
    assert COSTS()["mse"]().loss(y_pred, y_true) == pytest.approx(np.mean((y_pred - y_true) ** 2))


def test_binary_cross_entropy() -> None:
    p = rng.uniform(0.05, 0.95, (6, 2))
    y = rng.integers(0, 2, (6, 2)).astype(float)
    logits = rng.standard_normal((6, 2)) * 3
    check_cost(COSTS()["binary_cross_entropy"](), p, y, logits=logits)


@pytest.mark.parametrize("labels", ["one_hot", "indices", "soft"])
def test_categorical_cross_entropy(labels: str) -> None:
    p = rng.dirichlet(np.ones(4), size=5)
    idx = rng.integers(0, 4, 5)
    y = {"one_hot": np.eye(4)[idx], "indices": idx, "soft": rng.dirichlet(np.ones(4), size=5)}[
        labels
    ]
    logits = rng.standard_normal((5, 4)) * 3
    check_cost(COSTS()["categorical_cross_entropy"](), p, y, logits=logits)


def test_indices_and_one_hot_agree() -> None:
    cce = COSTS()["categorical_cross_entropy"]()
    z = rng.standard_normal((7, 3))
    idx = rng.integers(0, 3, 7)
    l1, g1 = cce.loss_and_gradient_from_logits(z, idx)
    l2, g2 = cce.loss_and_gradient_from_logits(z, np.eye(3)[idx])
    assert l1 == pytest.approx(l2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    assert cce.loss(p, idx) == pytest.approx(l1, rel=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_losses_are_exact_and_finite_at_logits_of_1000(dtype: type) -> None:
    bce = COSTS()["binary_cross_entropy"]()
    z = np.array([[1000.0], [-1000.0], [1000.0], [-1000.0]], dtype=dtype)
    y = np.array([[1.0], [0.0], [0.0], [1.0]], dtype=dtype)
    loss, grad = bce.loss_and_gradient_from_logits(z, y)
    assert loss == pytest.approx(500.0)  # two right (0), two wrong by 1000 each
    np.testing.assert_allclose(grad.ravel(), [0, 0, 0.25, -0.25])
    cce = COSTS()["categorical_cross_entropy"]()
    z2 = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]], dtype=dtype)
    loss, grad = cce.loss_and_gradient_from_logits(z2, np.array([0, 0]))
    assert loss == pytest.approx(1000.0)  # (0 + 2000) / 2
    assert np.all(np.isfinite(grad))


def test_unfused_cross_entropy_on_saturated_probabilities_is_finite() -> None:
    bce = COSTS()["binary_cross_entropy"]()
    p = np.array([[0.0], [1.0]])
    y = np.array([[1.0], [0.0]])
    assert bce.loss(p, y) == pytest.approx(100.0)  # log clamped at -100, as PyTorch
    assert np.all(np.isfinite(bce.gradient(p, y)))
    cce = COSTS()["categorical_cross_entropy"]()
    assert np.isfinite(cce.loss(np.array([[1.0, 0.0]]), np.array([1])))
    assert np.all(np.isfinite(cce.gradient(np.array([[1.0, 0.0]]), np.array([1]))))


def test_fusion_is_declared_for_the_matching_activation_only() -> None:
    acts = sn.get_activation_functions()
    assert COSTS()["binary_cross_entropy"]().fuses_with(acts["sigmoid"]())
    assert not COSTS()["binary_cross_entropy"]().fuses_with(acts["softmax"]())
    assert COSTS()["categorical_cross_entropy"]().fuses_with(acts["softmax"]())
    assert not COSTS()["mse"]().fuses_with(acts["sigmoid"]())


def test_shape_mismatch_is_a_shape_error() -> None:
    with pytest.raises(sn.ShapeError, match="mse"):
        COSTS()["mse"]().loss(np.zeros((3, 2)), np.zeros((3, 1)))
    with pytest.raises(sn.ShapeError, match="class indices of shape"):
        COSTS()["categorical_cross_entropy"]().loss(np.full((3, 2), 0.5), np.zeros(4, int))


def test_accuracy() -> None:
    cce = COSTS()["categorical_cross_entropy"]()
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert cce.accuracy(p, np.array([0, 1, 1])) == pytest.approx(2 / 3)
    assert COSTS()["mse"]().accuracy(p, p) is None


def test_against_pytorch_when_available() -> None:
    torch = pytest.importorskip("torch")
    z = rng.standard_normal((6, 5)) * 4
    idx = rng.integers(0, 5, 6)
    zt = torch.tensor(z, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(zt, torch.tensor(idx))
    lt.backward()
    loss, grad = COSTS()["categorical_cross_entropy"]().loss_and_gradient_from_logits(z, idx)
    assert loss == pytest.approx(lt.item(), rel=1e-12)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-10)
    zb = rng.standard_normal((6, 1)) * 4
    yb = rng.integers(0, 2, (6, 1)).astype(float)
    zbt = torch.tensor(zb, requires_grad=True)
    lbt = torch.nn.functional.binary_cross_entropy_with_logits(zbt, torch.tensor(yb))
    lbt.backward()
    loss, grad = COSTS()["bce"]().loss_and_gradient_from_logits(zb, yb)
    assert loss == pytest.approx(lbt.item(), rel=1e-12)
    np.testing.assert_allclose(grad, zbt.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_path_reusing_the_activation_output_agrees_with_logits(dtype) -> None:
    acts = sn.get_activation_functions()
    z = (rng.standard_normal((6, 4)) * 3).astype(dtype)
    z[0] = [200.0, -200.0, 0.0, 1.0]  # the target's probability underflows: logits fallback
    idx = np.array([1, 0, 3, 2, 1, 0])
    cce = COSTS()["categorical_cross_entropy"]()
    p = acts["softmax"]().forward(z)
    loss_a, grad_a = cce.loss_and_gradient_from_logits(z, idx)
    loss_b, grad_b = cce.loss_and_gradient_from_logits(z, idx, p)
    assert loss_b == pytest.approx(loss_a, rel=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(grad_b, grad_a, rtol=1e-5, atol=1e-7)
    bce = COSTS()["bce"]()
    zb = z[:, :1]
    yb = (idx[:, None] % 2).astype(dtype)
    loss_c, grad_c = bce.loss_and_gradient_from_logits(zb, yb)
    loss_d, grad_d = bce.loss_and_gradient_from_logits(zb, yb, acts["sigmoid"]().forward(zb))
    assert loss_c == loss_d
    np.testing.assert_allclose(grad_d, grad_c, rtol=1e-6, atol=1e-9)
