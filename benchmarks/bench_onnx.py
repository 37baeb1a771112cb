"""Inference: scratchnet's Model.predict against the same model exported to ONNX and run in
ONNX Runtime (CPU provider), float32.

Models: the MLP 784-256-256-10 of bench_mlp.py and the digits CNN of
examples/digits_cnn.toml (conv 16, pool, conv 32, pool, linear 10 on 1x8x8). Each is timed
on one batch; predict and ONNX Runtime runs are interleaved and the median of each is
reported, so the ratio comes from one run. Both sides use one thread. Also reports the
export time and the largest difference measured.

    python benchmarks/bench_onnx.py [--batch 256] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

# One thread on each side: ONNX Runtime is given one below, and NumPy's BLAS gets one here
# (before NumPy loads it); on a shared 2-core machine threaded BLAS can be 50x slower.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

import scratchnet_core as sn  # noqa: E402
import scratchnet_onnx  # noqa: E402
from scratchnet_core.layers import convolutional_2d, flatten, linear, max_pool2d  # noqa: E402


def models() -> dict[str, tuple[sn.Model, tuple[int, ...]]]:
    mlp = sn.Model(
        [linear(784, 256, "relu"), linear(256, 256, "relu"), linear(256, 10, "softmax")],
        "categorical_cross_entropy",
    )
    cnn = sn.Model(
        [
            convolutional_2d(1, 16, 3, padding=1, activation="relu"),
            max_pool2d(2),
            convolutional_2d(16, 32, 3, padding=1, activation="relu"),
            max_pool2d(2),
            flatten(),
            linear(128, 10, "softmax"),
        ],
        "categorical_cross_entropy",
    )
    return {"MLP 784-256-256-10": (mlp, (784,)), "digits CNN 1x8x8": (cnn, (1, 8, 8))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    sn.seed(0)
    rows = []
    folder = Path(tempfile.mkdtemp())
    for label, (model, shape) in models().items():
        path = folder / "model.onnx"
        start = time.perf_counter()
        scratchnet_onnx.export(model, path, input_shape=shape)
        export_ms = (time.perf_counter() - start) * 1e3
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one core, and no spinning that would slow NumPy
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).normal(size=(args.batch, *shape)).astype(np.float32)
        ours, theirs = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            expected = model.predict(x, batch_size=args.batch)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            (got,) = session.run(None, {"input": x})
            theirs.append(time.perf_counter() - start)
        diff = float(np.abs(got - expected).max())
        rows.append((label, statistics.median(ours), statistics.median(theirs), export_ms, diff))

    print(
        f"inference, batch {args.batch}, float32, median of {args.repeats} interleaved runs, "
        f"onnxruntime {ort.__version__} (1 thread)"
    )
    print("| model                | predict ms | ORT ms | predict / ORT | export ms | max diff |")
    print("|----------------------|------------|--------|---------------|-----------|----------|")
    for label, ours_s, theirs_s, export_ms, diff in rows:
        print(
            f"| {label:20} | {ours_s * 1e3:10.2f} | {theirs_s * 1e3:6.2f} | "
            f"{ours_s / theirs_s:13.2f} | {export_ms:9.1f} | {diff:8.1e} |"
        )


if __name__ == "__main__":
    main()
