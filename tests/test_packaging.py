"""The package installs what it has: every subpackage is listed, the sample is found."""

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "tsssl").rglob("__init__.py")}
    missing = found - listed
    assert not missing, f"add these packages to [tool.setuptools] packages: {sorted(missing)}"


def test_cli_help_lists_commands():
    from tsssl.cli import COMMANDS, build_parser

    text = build_parser().format_help()
    for name in COMMANDS:
        assert name in text


def test_ci_runs_the_readme_test_command():
    import subprocess

    out = subprocess.run(
        ["bash", ".ci/run", "--print-test-command"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "pytest" in out and "pip install" in out
