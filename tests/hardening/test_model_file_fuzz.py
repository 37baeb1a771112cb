"""Fuzzed model files: every damaged file raises ModelFileError, never another exception,
never runs code, and loads with bounded memory."""

from __future__ import annotations

import io
import json
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import scratchnet_core as sn
from scratchnet_core.layers import linear

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> bytes:
    sn.seed(0)
    layers = sn.get_layers()
    model = sn.Model(
        [linear(4, 6, "relu"), layers["batch_norm"](6), linear(6, 3, "softmax")],
        "categorical_cross_entropy",
        "adam",
    )
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((32, 4)), rng.integers(0, 3, 32), epochs=2, verbose=0)
    path = tmp_path_factory.mktemp("fuzz") / "good.npz"
    model.save(path)
    return path.read_bytes()


def members(raw: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return {name: z.read(name) for name in z.namelist()}


def archive(parts: dict[str, bytes], compress: bool = False) -> bytes:
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def header_of(parts: dict[str, bytes]) -> dict:
    return json.loads(np.load(io.BytesIO(parts["header.npy"])).tobytes())


def with_header(parts: dict[str, bytes], header: dict) -> dict[str, bytes]:
    blob = json.dumps(header).encode()
    return {**parts, "header.npy": npy(np.frombuffer(blob, dtype=np.uint8))}


class Exploded(Exception):
    """Raised by a pickled payload if anything ever unpickles it."""


def boom():
    raise Exploded("a model file ran code")


class Payload:
    def __reduce__(self):
        return (boom, ())


def mutations(good: bytes, rng: np.random.Generator):
    """(label, bytes) pairs: a few thousand damaged files."""
    raw = bytearray(good)
    parts = members(good)
    for _ in range(1500):  # bit flips anywhere
        flipped = bytearray(raw)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(len(raw)))
            flipped[i] ^= 1 << int(rng.integers(8))
        yield "flip", bytes(flipped)
    for cut in rng.integers(0, len(raw), 400):  # truncations
        yield "truncate", bytes(raw[: int(cut)])
    for name in parts:  # each member removed
        yield f"remove {name}", archive({k: v for k, v in parts.items() if k != name})
    names = [n for n in parts if n != "header.npy"]
    for _ in range(100):  # two members' contents swapped
        a, b = rng.choice(len(names), 2, replace=False)
        swapped = dict(parts)
        swapped[names[a]], swapped[names[b]] = parts[names[b]], parts[names[a]]
        if swapped != parts:
            yield "swap", archive(swapped)
    for name in names:  # wrong dtype, wrong shape, object arrays, huge declared shapes
        array = np.load(io.BytesIO(parts[name]))
        yield f"float64 {name}", archive({**parts, name: npy(array.astype(np.float64))})
        yield f"int {name}", archive({**parts, name: npy(array.astype(np.int32))})
        yield f"shape {name}", archive({**parts, name: npy(np.zeros(array.size + 1, array.dtype))})
        yield f"object {name}", archive({**parts, name: npy(np.array([Payload()], dtype=object))})
        huge = bytearray(parts[name])
        text = huge.decode("latin1")
        shape_text = str(tuple(array.shape)).replace(" ", "")
        declared = text.replace(str(tuple(array.shape)), "(1000000000000, 1000000000)", 1)
        if declared != text:
            yield f"huge {name}", archive({**parts, name: declared.encode("latin1")})
        del shape_text
    yield "compressed", archive(parts, compress=True)
    yield "empty", b""
    yield "not a zip", b"PK\x03\x04" + bytes(200)
    header = header_of(parts)
    edits = [
        ("format", "keras"),
        ("format_version", 2),
        ("format_version", "1"),
        ("dtype", "float16"),
        ("dtype", "object"),
        ("layers", {}),
        ("layers", [{"name": "linear", "config": {"in_features": 4, "out_features": 10**12}}]),
        ("layers", [{"name": "linear", "config": {"in_features": -4, "out_features": 6}}]),
        ("layers", [{"name": "nonexistent_layer", "config": {}}]),
        ("layers", [{"name": "linear", "config": "not a table"}]),
        ("layers", [{"config": {}}]),
        ("cost", {"name": "mse", "config": {"bogus": 1}}),
        ("optimizer", {"name": "adam", "config": {"lr": -1}, "state": {}}),
        ("optimizer", {"name": "adam", "config": {}, "state": {"iterations": "x"}}),
        ("batch_size", 0),
        ("arrays", []),
    ]
    for key, value in edits:
        yield f"header {key}={str(value)[:30]}", archive(with_header(parts, {**header, key: value}))
    for key in list(header):
        yield (
            f"header without {key}",
            archive(with_header(parts, {k: v for k, v in header.items() if k != key})),
        )
    state = json.loads(json.dumps(header["optimizer"]["state"]))
    state["exp_avg"]["0.weight"] = {"__array__": "optimizer/not/declared"}
    yield (
        "state names undeclared array",
        archive(
            with_header(parts, {**header, "optimizer": {**header["optimizer"], "state": state}})
        ),
    )
    yield (
        "header is not json",
        archive({**parts, "header.npy": npy(np.frombuffer(b"{nope", np.uint8))}),
    )
    yield "header is a list", archive(with_header(parts, [1, 2, 3]))  # type: ignore[arg-type]


def snapshot(model: sn.Model) -> list[np.ndarray]:
    state = model.optimizer.state_dict()
    arrays = [*model.parameters().values(), *model.buffers().values()]
    arrays += [v for key in ("exp_avg", "exp_avg_sq") for v in state[key].values()]
    return [*arrays, np.array(state["iterations"]), np.array(model.epochs_trained)]


def test_fuzzed_files_raise_model_file_error_only(good: bytes, tmp_path: Path) -> None:
    original = snapshot(sn.Model.load(_write(tmp_path, good)))
    rng = np.random.default_rng(2026)
    start = time.perf_counter()
    tracemalloc.start()
    counts: dict[str, int] = {"refused": 0, "loaded": 0}
    for label, data in mutations(good, rng):
        path = _write(tmp_path, data)
        try:
            loaded = sn.Model.load(path)
        except sn.ModelFileError:
            counts["refused"] += 1
        except Exploded as exc:  # pragma: no cover - the point of the test
            raise AssertionError(f"{label}: loading ran code from the file") from exc
        except Exception as exc:  # pragma: no cover - any other exception is a defect
            raise AssertionError(f"{label}: raised {type(exc).__name__}: {exc}") from exc
        else:  # a flip in an unused zip field is harmless; anything else must be refused
            counts["loaded"] += 1
            for a, b in zip(snapshot(loaded), original, strict=True):
                assert a.dtype == b.dtype and np.array_equal(a, b), f"{label}: silently changed"
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    elapsed = time.perf_counter() - start
    total = counts["refused"] + counts["loaded"]
    assert total >= 2000
    assert counts["refused"] >= total * 0.9, counts
    assert peak < 64 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB"
    assert elapsed < 30, f"{total} cases took {elapsed:.1f} s"


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "case.npz"
    path.write_bytes(data)
    return path
