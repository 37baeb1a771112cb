"""The plugin author's guide, step by step, in a fresh virtual environment.

Builds the package docs/plugins.md shows (its files are extracted from the page), installs
scratchnet and it into a new venv, runs its five-line test there, and installs and
uninstalls plugins/extras, checking that `scratchnet plugins` follows.
"""

from __future__ import annotations

import os
import re
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def guide_files() -> dict[str, str]:
    text = (ROOT / "docs" / "plugins.md").read_text()
    files = {}
    for block in re.findall(r"```(?:toml|python)\n(.*?)```", text, flags=re.DOTALL):
        first, _, rest = block.partition("\n")
        if first.startswith("# file: "):
            files[first.removeprefix("# file: ").strip()] = rest
    return files


def run(cmd: list[str], cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCRATCHNET", "PYTHON"))}
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.mark.slow
def test_guide_package_installs_and_passes_its_test(tmp_path: Path) -> None:
    files = guide_files()
    assert set(files) == {"pyproject.toml", "scratchnet_softsign.py", "tests/test_softsign.py"}
    test_lines = [ln for ln in files["tests/test_softsign.py"].splitlines() if ln.strip()]
    assert len(test_lines) <= 5
    package = tmp_path / "scratchnet-softsign"
    for name, content in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(content)

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    scratchnet = str(env_dir / "bin" / "scratchnet")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, str(ROOT), "pytest"])
    run([*pip, str(package)])

    out = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")])
    assert "1 passed" in out
    listing = run([scratchnet, "plugins"])
    assert re.search(r"activations\s+softsign\s+scratchnet-softsign\s+0\.1\.0\s+loaded", listing)
    assert "ok       activations:softsign" in run([scratchnet, "check", "softsign"])

    run([*pip, str(ROOT / "plugins" / "extras")])
    assert re.search(r"activations\s+gelu\s+scratchnet-extras", run([scratchnet, "plugins"]))
    run([python, "-m", "pip", "uninstall", "--yes", "--quiet", "scratchnet-extras"])
    assert "gelu" not in run([scratchnet, "plugins"])
    run([python, "-m", "pip", "uninstall", "--yes", "--quiet", "scratchnet-softsign"])
    assert "softsign" not in run([scratchnet, "plugins"])
    # with no plugin distribution at all, the core still imports and says where the set lives
    out = run([python, "-c", "import scratchnet_core as sn; print(len(sn.get_layers()))"])
    assert out.strip() == "0"
    err = subprocess.run(
        [python, "-c", "import scratchnet_core as sn; sn.get_layers()['linear']"],
        capture_output=True,
        text=True,
    ).stderr
    assert "scratchnet-std" in err


def test_guide_runtime_registration_block_runs(fresh_runtime_registrations) -> None:
    text = (ROOT / "docs" / "plugins.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "sn.register" in b)
    exec(compile(block, "docs/plugins.md", "exec"), {"__name__": "guide"})
