"""Every Python block in the README and docs/ runs as shown, so they cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_run(
    page: Path, fresh_runtime_registrations, capsys, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)
    for block in blocks:
        exec(compile(block, str(page), "exec"), {"__name__": f"docs_{page.stem}"})
    if page.name == "README.md":
        assert blocks, "README.md has no python block"
        out = capsys.readouterr().out
        accuracy, backends = out.split(" ", 1)
        assert float(accuracy) > 0.9 and "fft" in backends


ROLE = re.compile(r":(?:class|meth|func|data|attr|mod|exc):`")
SOURCES = [
    *sorted((ROOT / "scratchnet_core").glob("*.py")),
    *sorted((ROOT / "plugins").glob("*/scratchnet_*/**/*.py")),
]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docstrings_use_markdown_not_sphinx_roles(source: Path) -> None:
    """The API reference renders docstrings as Markdown (mkdocstrings): a Sphinx role such
    as :class:`X` would show raw; write `X` instead."""
    lines = [i for i, line in enumerate(source.read_text().splitlines(), 1) if ROLE.search(line)]
    assert not lines, f"{source.name}: Sphinx roles on lines {lines}"
