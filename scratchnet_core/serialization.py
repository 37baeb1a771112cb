"""Model files: one ``.npz`` archive holding a JSON header and the arrays.

Layout of the archive (every member is a ``.npy`` array, read with ``allow_pickle=False``):

- ``header.npy``: UTF-8 JSON as ``uint8`` — format name and version, dtype, the architecture
  as registry names and configs, the cost, the optimizer's config and scalar state, the
  distribution and version of every plugin used, the shape of one input sample (from format
  version 2; null when the model never saw data), the metrics by registry name and config
  (from format version 3; older files load with the default metrics), and the shape, dtype
  and checksum of every array;
- ``param/<layer index>.<name>.npy``: the parameters;
- ``buffer/<layer index>.<name>.npy``: layer buffers (running statistics);
- ``optimizer/<path>.npy``: the optimizer's array state (momentum buffers, moments, ...).

Saving writes a temporary file beside the target and renames it over the target only once
it is complete and flushed to disk, so a crash leaves the previous file intact. Loading
checks every member's ``.npy`` header against the architecture before reading its data,
reads exactly the bytes declared (so a file that lies about shapes cannot make the loader
allocate more than the file holds), verifies the archive's CRCs, and never unpickles. A
member the header does not list is a `ModelFileError`: the
file is not as scratchnet wrote it.

Each format version has its own reader (`READERS`), which brings its header to the
current form: files of every version in `READABLE_VERSIONS` keep loading.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import numpy as np

from .components import component_spec
from .errors import MissingPluginError, ModelFileError, PluginNotFoundError, ScratchnetError
from .initializers import placeholder_weights
from .registry import RUNTIME, get_registry

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "load_model",
    "save_model",
    "write_atomically",
]

FORMAT: Final = "scratchnet-model"
FORMAT_VERSION: Final = 3
HEADER: Final = "header"
MAX_HEADER_BYTES: Final = 16 * 2**20
MAX_MEMBERS: Final = 100_000

PathLike = str | os.PathLike[str]

# What zipfile and the .npy reader raise on damaged bytes: unsupported versions or
# compression (NotImplementedError), "encrypted" flags (RuntimeError), bad headers, CRCs.
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    ValueError,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
    UnicodeDecodeError,
    struct.error,
)


# ----------------------------------------------------------------------------- saving


def _crc32(array: np.ndarray) -> int:
    """Checksum of an array's bytes, recorded under its name: a member swapped for another
    of the same shape (each with a valid zip CRC) is caught by it."""
    return zlib.crc32(np.ascontiguousarray(array).tobytes())


def _flatten_state(state: Mapping[str, Any], prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """Arrays of a nested state dict go to ``arrays``; the JSON-able rest is returned."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        if not isinstance(key, str) or "/" in key:
            raise ModelFileError(
                f"optimizer state key {key!r} cannot be saved (use str without '/')"
            )
        path = f"{prefix}/{key}"
        if isinstance(value, np.ndarray):
            arrays[path] = value
            out[key] = {"__array__": path}
        elif isinstance(value, Mapping):
            out[key] = _flatten_state(value, path, arrays)
        elif isinstance(value, (np.integer, np.floating)):
            out[key] = value.item()
        elif value is None or isinstance(value, (bool, int, float, str)):
            out[key] = value
        elif isinstance(value, (list, tuple)) and all(
            isinstance(v, (bool, int, float, str)) for v in value
        ):
            out[key] = list(value)
        else:
            raise ModelFileError(
                f"optimizer state {path!r} holds a {type(value).__name__}, which a model file "
                "cannot store (arrays, numbers, strings and dicts of them can)"
            )
    return out


def _plugins_used(model: Model) -> list[dict[str, str]]:
    used: dict[tuple[str, str], dict[str, str]] = {}

    def note(kind: str, obj: Any) -> None:
        registry = get_registry(kind)
        name = obj if isinstance(obj, str) else registry.name_of(type(obj))
        if name is None or (kind, name) in used:
            return
        distribution, version = registry.origin(name)
        used[kind, name] = {
            "kind": kind,
            "name": name,
            "distribution": distribution,
            "version": version,
        }

    def note_layer(layer: Any) -> None:  # containers: their children too, to any depth
        note("layers", layer)
        if layer.activation is not None:
            note("activations", layer.activation)
        backend = getattr(layer, "backend", None)
        if isinstance(backend, str):
            note("conv_backends", backend)
        for child in layer.children().values():
            note_layer(child)

    for layer in model.layers:
        note_layer(layer)
    note("costs", model.cost_function)
    note("optimizers", model.optimizer)
    for metric in model.metrics:
        note("metrics", metric)
    return list(used.values())


def _input_shape(model: Model) -> list[int] | None:
    shape = getattr(model, "input_shape", None)
    return None if shape is None else [int(s) for s in shape]


def save_model(model: Model, path: PathLike) -> None:
    """Write ``model`` to ``path`` atomically (see the module docstring for the format).

    >>> import os, tempfile, scratchnet_core as sn
    >>> model = sn.Model([sn.get_layers()["linear"](2, 1)], "mse")
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> save_model(model, path)  # the same as model.save(path)
    >>> load_model(path).layers
    [Linear(2, 1)]
    """
    from . import __version__

    target = Path(os.fspath(path))
    if target.is_dir():
        raise ModelFileError(f"cannot save the model to {str(target)!r}: it is a directory")
    arrays: dict[str, np.ndarray] = {
        f"param/{name}": value for name, value in model.parameters().items()
    }
    arrays.update({f"buffer/{name}": value for name, value in model.buffers().items()})
    optimizer_state = _flatten_state(model.optimizer.state_dict(), "optimizer", arrays)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "scratchnet_version": __version__,
        "dtype": model.dtype.name,
        "batch_size": model.batch_size,
        "epochs_trained": model.epochs_trained,
        "input_shape": _input_shape(model),
        "layers": [component_spec("layers", layer) for layer in model.layers],
        "cost": component_spec("costs", model.cost_function),
        "metrics": [component_spec("metrics", metric) for metric in model.metrics],
        "optimizer": {**component_spec("optimizers", model.optimizer), "state": optimizer_state},
        "plugins": _plugins_used(model),
        "arrays": {
            k: {"shape": list(v.shape), "dtype": v.dtype.str, "crc32": _crc32(v)}
            for k, v in arrays.items()
        },
    }
    blob = json.dumps(header, allow_nan=False).encode("utf-8")
    members = {HEADER: np.frombuffer(blob, dtype=np.uint8), **arrays}
    try:
        write_atomically(target, lambda f: np.savez(f, **members))  # type: ignore[arg-type]
    except OSError as exc:
        raise ModelFileError(
            f"cannot save the model to {str(target)!r}: {exc.strerror or exc}"
        ) from exc


def write_atomically(path: PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(f)`` on a new file beside ``path``, flush it to disk, then rename it
    over ``path``: readers see the old file or the complete new one, never a half-written
    one. On any failure the temporary file is removed and the error (an `OSError`
    for the file system's) propagates; ``path`` is untouched.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "notes.bin"
    >>> write_atomically(path, lambda f: f.write(b"complete"))
    >>> path.read_bytes()
    b'complete'
    """
    target = Path(os.fspath(path))
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------- loading


def _read_member(
    archive: zipfile.ZipFile,
    name: str,
    shape: tuple[int, ...] | None,
    dtype: np.dtype[Any],
    where: str,
    checksum: Any = None,
) -> np.ndarray:
    """Read one ``.npy`` member whose header must declare ``shape`` (any, if None) and
    ``dtype``; reads exactly the declared bytes, checks the zip CRC and, when given, the
    header's ``checksum`` for this name."""
    member = f"{name}.npy"
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise ModelFileError(f"{where}: the archive has no member {member!r}") from None
    if info.compress_type != zipfile.ZIP_STORED:
        # scratchnet writes stored members; a compressed one could expand without bound
        raise ModelFileError(f"{where}: {member!r} is compressed; model files store arrays as is")
    try:
        with archive.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                found_shape, fortran, found_dtype = np.lib.format.read_array_header_1_0(fp)
            elif version in ((2, 0), (3, 0)):
                found_shape, fortran, found_dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ModelFileError(f"{where}: unknown .npy version {version} in {member!r}")
            if found_dtype.hasobject:
                raise ModelFileError(
                    f"{where}: {member!r} holds Python objects; refused (no pickles)"
                )
            if found_dtype != dtype:
                raise ModelFileError(
                    f"{where}: {member!r} has dtype {found_dtype}, expected {dtype}"
                )
            if shape is not None and tuple(found_shape) != tuple(shape):
                raise ModelFileError(
                    f"{where}: {member!r} has shape {tuple(found_shape)}, expected {tuple(shape)}"
                )
            if any(int(s) < 0 for s in found_shape):
                raise ModelFileError(f"{where}: {member!r} declares a negative shape")
            nbytes = math.prod(int(s) for s in found_shape) * dtype.itemsize
            if nbytes > info.file_size:
                raise ModelFileError(
                    f"{where}: {member!r} declares {nbytes} bytes of data but holds at most "
                    f"{info.file_size}"
                )
            data = fp.read(nbytes)
            if len(data) != nbytes:
                raise ModelFileError(f"{where}: {member!r} is truncated")
            if fp.read(1):
                raise ModelFileError(f"{where}: {member!r} has trailing bytes")
    except ModelFileError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise ModelFileError(f"{where}: {member!r} is corrupted: {exc}") from exc
    if checksum is not None and zlib.crc32(data) != checksum:
        raise ModelFileError(
            f"{where}: {member!r} does not hold the data recorded for it (checksum mismatch)"
        )
    shape_ints = tuple(int(s) for s in found_shape)
    flat = np.frombuffer(data, dtype=dtype)
    array: np.ndarray = flat.reshape(shape_ints, order="F" if fortran else "C")
    return array.copy()


def _header(archive: zipfile.ZipFile, source: str) -> dict[str, Any]:
    info = archive.getinfo(f"{HEADER}.npy") if f"{HEADER}.npy" in archive.namelist() else None
    if info is None:
        raise ModelFileError(f"{source} is not a scratchnet model file: it has no header")
    if info.file_size > MAX_HEADER_BYTES:
        raise ModelFileError(f"{source}: the header is {info.file_size} bytes, over the limit")
    raw = _read_member(archive, HEADER, None, np.dtype(np.uint8), source)
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{source}: the header is not valid JSON: {exc}") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(
            f"{source} is not a scratchnet model file (format {header.get('format')!r})"
            if isinstance(header, dict)
            else f"{source} is not a scratchnet model file"
        )
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{source}: format_version must be an integer, got {version!r}")
    reader = READERS.get(version)
    if reader is None:
        raise ModelFileError(
            f"{source} has format version {version}; this release of scratchnet reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))} (upgrade scratchnet to read newer files)"
        )
    return reader(header, source)


def _require(header: Mapping[str, Any], source: str, fields: Mapping[str, type]) -> None:
    for key, kind in fields.items():
        value = header.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ModelFileError(
                f"{source}: header field {key!r} must be a {kind.__name__}, got {value!r}"
            )


_V1_FIELDS: Final[dict[str, type]] = {
    "dtype": str,
    "batch_size": int,
    "epochs_trained": int,
    "layers": list,
    "cost": dict,
    "optimizer": dict,
    "plugins": list,
    "arrays": dict,
}


def _read_v1(header: dict[str, Any], source: str) -> dict[str, Any]:
    """Version 1 (scratchnet 0.1): no ``input_shape``; read as unknown."""
    _require(header, source, _V1_FIELDS)
    return {**header, "input_shape": None, "metrics": None}


def _read_v2(header: dict[str, Any], source: str) -> dict[str, Any]:
    """Version 2: version 1 plus ``input_shape`` (one sample's shape, or null if unknown)."""
    _require(header, source, _V1_FIELDS)
    shape = header.get("input_shape")
    if shape is not None and not (
        isinstance(shape, list)
        and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
    ):
        raise ModelFileError(
            f"{source}: header field 'input_shape' must be null or a list of positive "
            f"integers, got {shape!r}"
        )
    return {**header, "input_shape": shape, "metrics": None}


def _read_v3(header: dict[str, Any], source: str) -> dict[str, Any]:
    """Version 3: version 2 plus ``metrics`` (the model's metric specs, by registry name);
    older versions load with the default metrics."""
    current = _read_v2(header, source)
    metrics = header.get("metrics")
    if not (isinstance(metrics, list) and all(isinstance(m, dict) for m in metrics)):
        raise ModelFileError(
            f"{source}: header field 'metrics' must be a list of component specs, got {metrics!r}"
        )
    return {**current, "metrics": metrics}


READERS: Final[dict[int, Callable[[dict[str, Any], str], dict[str, Any]]]] = {
    1: _read_v1,
    2: _read_v2,
    3: _read_v3,
}
"""One reader per format version: each checks its version's header and returns it in the
current form (fields a version lacks filled with their defaults), so a new field never stops
older files from loading. A new version adds a reader here."""

READABLE_VERSIONS: Final = tuple(sorted(READERS))


def _undeclared_members(archive: zipfile.ZipFile, declared: Mapping[str, Any], source: str) -> None:
    """Every member besides the header must be an array the header lists: a file scratchnet
    did not write (or one altered since) is refused rather than partly read."""
    expected = {f"{HEADER}.npy"} | {f"{name}.npy" for name in declared}
    extra = sorted(set(archive.namelist()) - expected)
    if extra:
        shown = ", ".join(repr(m) for m in extra[:5]) + (" ..." if len(extra) > 5 else "")
        raise ModelFileError(
            f"{source}: the archive holds members its header does not list ({shown}); "
            "scratchnet did not write this file as it is"
        )


def _declared_crc(declared: Mapping[str, Any], member: str) -> int:
    spec = declared.get(member)
    crc = spec.get("crc32") if isinstance(spec, dict) else None
    if not isinstance(crc, int) or isinstance(crc, bool):
        raise ModelFileError(f"the header declares no valid checksum for {member!r}")
    return crc


def _unflatten_state(
    archive: zipfile.ZipFile,
    state: Any,
    declared: Mapping[str, Any],
    param_shapes: Mapping[str, tuple[int, ...]],
    dtype: np.dtype[Any],
    source: str,
) -> Any:
    if isinstance(state, dict):
        if set(state) == {"__array__"}:
            member = state["__array__"]
            if not isinstance(member, str) or member not in declared:
                raise ModelFileError(
                    f"{source}: optimizer state names an undeclared array {member!r}"
                )
            spec = declared[member]
            shape = tuple(spec.get("shape", ())) if isinstance(spec, dict) else None
            if shape is None or not all(isinstance(s, int) for s in shape):
                raise ModelFileError(f"{source}: array {member!r} has no valid declared shape")
            key = member.rsplit("/", 1)[-1]
            if key in param_shapes and shape != param_shapes[key]:
                raise ModelFileError(
                    f"{source}: optimizer array {member!r} has shape {shape}, but parameter "
                    f"{key!r} has {param_shapes[key]}"
                )
            return _read_member(
                archive, member, shape, dtype, source, _declared_crc(declared, member)
            )
        return {
            k: _unflatten_state(archive, v, declared, param_shapes, dtype, source)
            for k, v in state.items()
        }
    if isinstance(state, list):
        return list(state)
    return state


def _missing_plugin(exc: PluginNotFoundError, header: Mapping[str, Any]) -> MissingPluginError:
    hint = "The model file names it, but no installed plugin provides it."
    for entry in header.get("plugins", []):
        if (
            isinstance(entry, dict)
            and entry.get("kind") == exc.kind
            and str(entry.get("name", "")).lower() == exc.requested.lower()
        ):
            dist, version = entry.get("distribution"), entry.get("version")
            hint = _install_hint(exc.kind, exc.requested, str(dist), str(version))
            break
    where = getattr(exc, "scratchnet_path", None)  # inside a container
    if where:
        hint += f" It is used at {where}."
    return MissingPluginError(exc.kind, exc.requested, exc.available, hint=hint)


def _install_hint(kind: str, name: str, distribution: str, version: str) -> str:
    """What to do about a component the file names but this process lacks."""
    if distribution == RUNTIME:
        return (
            f"The model was saved with {name!r} registered at runtime (not from an installed "
            "distribution): import the code that defines it, or register it with "
            f'@scratchnet_core.register("{kind}", "{name}"), before loading.'
        )
    return (
        f"The model was saved with it from the distribution {distribution!r} (version "
        f"{version}): install the distribution named {distribution!r} (`pip install "
        f"{distribution}` if it is published on your package index, otherwise `pip install "
        "<path>` from its source directory), then load again."
    )


def load_model(path: PathLike) -> Model:
    """Read a model written by `save_model`; no code from the file is ever run.

    >>> import os, tempfile, scratchnet_core as sn
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> sn.Model([sn.get_layers()["linear"](2, 1, "sigmoid")], "bce", "adam").save(path)
    >>> model = load_model(path)  # the same as sn.Model.load(path)
    >>> type(model.optimizer).__name__, model.dtype
    ('Adam', dtype('float32'))
    """
    from .components import build_component
    from .model import Model

    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ModelFileError(f"no model file at {source!r}") from None
    except IsADirectoryError:
        raise ModelFileError(f"{source!r} is a directory, not a model file") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read {source!r}: {exc.strerror or exc}") from exc
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except _ARCHIVE_ERRORS as exc:
        raise ModelFileError(
            f"{source} is not a scratchnet model file (not an .npz archive): {exc}"
        ) from exc
    with archive:
        if len(archive.infolist()) > MAX_MEMBERS:
            raise ModelFileError(f"{source}: too many archive members")
        header = _header(archive, source)
        _undeclared_members(archive, header["arrays"], source)
        try:
            dtype = np.dtype(header["dtype"])
        except TypeError as exc:
            raise ModelFileError(f"{source}: unknown dtype {header['dtype']!r}") from exc
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ModelFileError(f"{source}: dtype must be float32 or float64, got {dtype}")
        stored = sum(info.file_size for info in archive.infolist()) // 4  # float32 or wider
        try:
            with placeholder_weights(max_elements=stored):
                layers = [
                    build_component("layers", spec, f"layer {i}")
                    for i, spec in enumerate(header["layers"])
                ]
                cost = build_component("costs", header["cost"], "cost")
                optimizer_spec = {k: v for k, v in header["optimizer"].items() if k != "state"}
                optimizer = build_component("optimizers", optimizer_spec, "optimizer")
                model = Model(
                    layers,
                    cost,
                    optimizer,
                    batch_size=header["batch_size"],
                    dtype=dtype,
                    metrics=header["metrics"],
                )
        except PluginNotFoundError as exc:
            raise _missing_plugin(exc, header) from None
        except (
            ScratchnetError,
            TypeError,
            ValueError,
            KeyError,
            MemoryError,
            OverflowError,
        ) as exc:
            raise ModelFileError(
                f"{source}: the architecture in the header cannot be built: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        declared = header["arrays"]
        params = model.parameters()
        for prefix, arrays in (("param", params), ("buffer", model.buffers())):
            for name, value in arrays.items():
                member = f"{prefix}/{name}"
                value[...] = _read_member(
                    archive,
                    member,
                    value.shape,
                    value.dtype,
                    source,
                    _declared_crc(declared, member),
                )
        state = _unflatten_state(
            archive,
            header["optimizer"].get("state", {}),
            declared,
            {k: v.shape for k, v in params.items()},
            dtype,
            source,
        )
        try:
            model.optimizer.load_state_dict(state)
        except (ScratchnetError, TypeError, ValueError, KeyError) as exc:
            raise ModelFileError(
                f"{source}: the optimizer state cannot be restored: {exc}"
            ) from exc
        epochs = header["epochs_trained"]
        if epochs < 0:
            raise ModelFileError(f"{source}: epochs_trained must be >= 0, got {epochs}")
        model.epochs_trained = epochs
        if header["input_shape"] is not None:
            model.input_shape = tuple(header["input_shape"])
    return model
