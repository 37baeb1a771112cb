"""Subcommands contributed by installed distributions (entry-point group scratchnet.commands)."""

from __future__ import annotations

import pytest

from scratchnet_core.cli import build_parser, main

HELLO = """
class Hello:
    help = "greet someone"

    def add_arguments(self, parser):
        parser.description = "Greets NAME, loudly if asked."
        parser.add_argument("name")
        parser.add_argument("--loud", action="store_true")

    def run(self, args):
        text = f"hello {args.name}"
        print(text.upper() if args.loud else text)
        return 3 if args.name == "three" else 0


class NoRun:
    help = "cannot run"

    def add_arguments(self, parser):
        pass


class BadArguments:
    help = "declares a broken argument"

    def add_arguments(self, parser):
        parser.add_argument("--x", type=int, nargs=0)

    def run(self, args):
        return 0


class Train:
    help = "a plugin trying to replace the built-in train"

    def add_arguments(self, parser):
        pass

    def run(self, args):
        return 99
"""


@pytest.fixture
def commands(make_distribution) -> None:
    make_distribution(
        "acme-commands",
        {
            "scratchnet.commands": {
                "hello": "acme_cmds:Hello",
                "norun": "acme_cmds:NoRun",
                "badargs": "acme_cmds:BadArguments",
                "boom": "acme_cmds_boom:Command",
                "train": "acme_cmds:Train",
            }
        },
        {"acme_cmds": HELLO, "acme_cmds_boom": "raise ImportError('missing dependency')\n"},
    )


def test_a_plugin_command_is_added_and_runs(commands, capsys) -> None:
    assert main(["hello", "world", "--loud"]) == 0
    assert capsys.readouterr().out == "HELLO WORLD\n"
    assert main(["hello", "three"]) == 3  # its exit status is the command's
    help_text = build_parser().format_help()
    assert "greet someone" in help_text
    with pytest.raises(SystemExit):
        main(["hello", "--help"])
    assert "Greets NAME, loudly if asked." in capsys.readouterr().out


def test_failing_command_plugins_are_reported_and_the_rest_works(commands, capsys) -> None:
    help_text = build_parser().format_help()
    assert "plugin commands not available" in help_text
    for name in ("boom", "norun", "badargs"):
        assert f"'{name}'" in help_text and "acme-commands" in help_text
    assert "ImportError: missing dependency" in help_text
    assert "lacks run" in help_text
    assert main(["boom", "--whatever", "x"]) == 1
    err = capsys.readouterr().err
    assert "could not load commands plugin 'boom'" in err and "acme-commands" in err
    assert main(["norun"]) == 1
    assert main(["plugins", "--no-load"]) == 0  # every built-in still works
    assert main(["hello", "again"]) == 0


def test_built_in_commands_win_over_a_plugin_of_the_same_name(commands) -> None:
    parser = build_parser()
    assert "train: a plugin command shadowing the built-in one (ignored)" in parser.format_help()
    args = parser.parse_args(["train", "config.toml"])
    assert args.func.__name__ == "_cmd_train"
