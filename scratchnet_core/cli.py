"""The ``scratchnet`` command (also ``python -m scratchnet_core``)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from .errors import PluginLoadError, ScratchnetError
from .registry import DISABLE_ENV, KINDS, get_registry, unmatched_disabled_entries

__all__ = ["Command", "main"]


@runtime_checkable
class Command(Protocol):
    """A subcommand contributed by a distribution: an entry point in the group
    ``scratchnet.commands``, named as the subcommand, naming a class (instantiated with no
    arguments), an instance or a module with these members.

    ``help`` is the one line ``scratchnet --help`` shows; ``add_arguments(parser)`` adds the
    arguments (and may set ``parser.description``) to the command's own
    `argparse.ArgumentParser`; ``run(args)`` runs it and returns the exit status. A
    `ScratchnetError` raised by ``run`` is reported as ``scratchnet: error: ...`` with
    status 1.

    Examples
    --------
    >>> import argparse
    >>> from scratchnet_core.cli import Command
    >>> class Hello:
    ...     help = "say hello"
    ...     def add_arguments(self, parser):
    ...         parser.add_argument("name")
    ...     def run(self, args):
    ...         print(f"hello {args.name}")
    ...         return 0
    >>> isinstance(Hello(), Command)
    True
    """

    help: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's arguments to its parser."""

    def run(self, args: argparse.Namespace) -> int:
        """Run the command; return the exit status."""


def _cmd_plugins(args: argparse.Namespace) -> int:
    rows: list[tuple[str, str, str, str, str]] = []
    for kind in KINDS:
        registry = get_registry(kind)
        for record in registry.records():
            if not args.no_load:
                with contextlib.suppress(ScratchnetError):  # shown in the state column
                    registry[f"{record.distribution}:{record.name}"]
            rows.append(
                (kind, record.name, record.distribution, record.version, registry.state(record))
            )
        rows.extend((kind, name, "<runtime>", "", "loaded") for name in registry.runtime_names())
    header = ("kind", "name", "distribution", "version", "state")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)), row[4])
    if not rows:
        print("no components installed: the standard set ships in 'scratchnet-std'")
    for entry in unmatched_disabled_entries():
        print(f"{DISABLE_ENV}: {entry!r} matches no installed plugin (nothing hidden for it)")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .testing import run_checks

    results = run_checks(args.names)
    if not results:
        print(f"no installed component matches {' '.join(args.names)}")
        return 1
    for r in results:
        detail = f": {r.detail}" if r.detail else ""
        label = f"{r.kind}:{r.name}" if r.kind else r.name
        print(f"{r.status:7}  {label}{detail}")
    failed = [r for r in results if r.status == "failed"]
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "failed", "skipped")}
    print(f"{counts['ok']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 1 if failed else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_xor_demo

    result = run_xor_demo(plot=args.plot, seed=args.seed, verbose=0 if args.quiet else 1)
    print(
        "XOR (the seed's example): 500 points, 2-32-32-1 relu/sigmoid, SGD(0.001), "
        "batch 100, 10000 epochs\n"
        f"  training loss {result['train_loss']:.4f}, "
        f"training accuracy {result['train_accuracy']:.3f}\n"
        f"  held-out accuracy on 1000 new points: {result['test_accuracy']:.3f}"
    )
    if result["plot"]:
        print(result["plot"])
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .config import run_config

    result = run_config(
        args.config,
        output_dir=args.output_dir,
        verbose=0 if args.quiet else None,
        distributed=args.distributed,
    )
    if not result.model.is_main_process:  # another process of a distributed run reports
        return 0
    history = result.history
    last = {k: v[-1] for k, v in history.history.items()}
    print(
        f"trained {len(history.epoch)} epochs: "
        + ", ".join(f"{k} {v:.4f}" for k, v in last.items())
    )
    if result.test_metrics is not None:
        print("held-out: " + ", ".join(f"{k} {v:.4f}" for k, v in result.test_metrics.items()))
    for what, path in result.files.items():
        print(f"wrote {what}: {path}")
    for note in result.notes:
        print(note)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import bench_conv, format_table

    print("conv2d forward + backward, float32, milliseconds per step")
    print(format_table(bench_conv(repeats=args.repeats, torch=not args.no_torch)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="scratchnet", description="A NumPy deep-learning framework built as a plugin registry."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plugins = sub.add_parser(
        "plugins", help="list every component: kind, name, distribution, version, state"
    )
    plugins.add_argument(
        "--no-load", action="store_true", help="list without importing the plugins' modules"
    )
    plugins.set_defaults(func=_cmd_plugins)

    check = sub.add_parser("check", help="run the conformance kit over installed components")
    check.add_argument("names", nargs="*", help="registry names (or kind:name); default: all")
    check.set_defaults(func=_cmd_check)

    demo = sub.add_parser("demo", help="run a demo")
    demo_sub = demo.add_subparsers(dest="demo", required=True, metavar="DEMO")
    xor = demo_sub.add_parser("xor", help="train the seed README's XOR example")
    xor.add_argument("--plot", metavar="FILE", help="write the decision boundary and loss curve")
    xor.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    xor.add_argument("--quiet", action="store_true", help="no progress bar")
    xor.set_defaults(func=_cmd_demo)

    train = sub.add_parser("train", help="train as a TOML config says (see examples/*.toml)")
    train.add_argument("config", help="the TOML config file")
    train.add_argument(
        "--output-dir",
        default=None,
        help="folder the [output] paths are relative to (created if missing; default: the "
        "config file's folder)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--distributed",
        metavar="NAME",
        default=None,
        help="train data-parallel with this backend of the 'distributed' registry "
        "(as [distributed] backend = NAME in the config); run under its launcher",
    )
    train.set_defaults(func=_cmd_train)

    bench = sub.add_parser("bench", help="run a benchmark")
    bench_sub = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    conv = bench_sub.add_parser(
        "conv", help="conv2d forward + backward per installed backend (and PyTorch if importable)"
    )
    conv.add_argument("--repeats", type=int, default=7, help="timed runs per block (default 7)")
    conv.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    conv.set_defaults(func=_cmd_bench)
    _add_plugin_commands(parser, sub)
    return parser


def _load_command(name: str) -> tuple[Command, argparse.ArgumentParser]:
    """The command ``name`` and a parser holding its arguments (any failure of the plugin's
    code is raised as `PluginLoadError`)."""
    registry = get_registry("commands")
    obj = registry[name]
    try:
        command = obj() if isinstance(obj, type) else obj
        if not isinstance(command, Command):
            raise TypeError(
                "a command needs 'help', 'add_arguments(parser)' and 'run(args)', "
                f"{type(command).__name__} lacks "
                + ", ".join(m for m in ("help", "add_arguments", "run") if not hasattr(command, m))
            )
        arguments = argparse.ArgumentParser(add_help=False)
        command.add_arguments(arguments)
    except Exception as exc:  # third-party code: reported, never fatal to the other commands
        distribution, _ = registry.origin(name)
        value = next((r.value for r in registry.records() if r.name == name), repr(obj))
        raise PluginLoadError(
            "commands", name, value, distribution, f"{type(exc).__name__}: {exc}"
        ) from exc
    return command, arguments


def _add_plugin_commands(parser: argparse.ArgumentParser, sub: Any) -> None:
    """Add a subcommand for each installed ``scratchnet.commands`` plugin. One that fails to
    load (or to declare its arguments) is listed as unavailable and, when called, reports
    why with status 1; built-in commands win over a plugin of the same name."""
    problems: list[str] = []
    for name in get_registry("commands"):
        if name in sub.choices:
            problems.append(f"{name}: a plugin command shadowing the built-in one (ignored)")
            continue
        try:
            command, arguments = _load_command(name)
        except ScratchnetError as exc:
            problems.append(str(exc))
            failed = sub.add_parser(  # takes any arguments (none is an option), reports why
                name, help="(unavailable: failed to load, see below)", prefix_chars="\0"
            )
            failed.add_argument("arguments", nargs="*", help=argparse.SUPPRESS)
            failed.set_defaults(func=_failed_command(exc))
            continue
        added = sub.add_parser(
            name,
            parents=[arguments],
            help=command.help,
            description=arguments.description or command.help,
        )
        added.set_defaults(func=command.run)
    if problems:
        parser.epilog = "plugin commands not available:\n  " + "\n  ".join(problems)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter


def _failed_command(error: ScratchnetError) -> Any:
    def run(args: argparse.Namespace) -> int:
        raise error

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
    except ScratchnetError as exc:
        print(f"scratchnet: error: {exc}", file=sys.stderr)
        return 1
    return status
