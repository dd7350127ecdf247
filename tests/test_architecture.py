"""The package's layering, read from the source: imports only go down, commands stay thin,
the registry and config stay torch-free, and no function grows past 80 lines (docs/design.md,
"Architecture")."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "tsssl"

# Bottom to top; a module may import its own layer and the ones below (lazy imports included).
LAYERS = [
    {"atomic", "memory", "registry", "config", "runfolder", "budget"},
    {"data", "augment", "encoders", "losses"},
    {"methods"},
    {"train"},
    {"evaluate"},
    {"pipeline", "experiments"},
    {"sklearn", "bench"},
    {"commands", "cli", "__main__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}
# tsssl.methods.finetune(): the one convenience in methods/ that runs a Trainer (imported inside
# the function, so that `import tsssl.methods` never loads tsssl.train).
ALLOWED_UP = {("methods.finetune", "train")}


def _module(path: Path) -> str:
    parts = path.relative_to(PKG).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every tsssl module ``path`` imports, at the top or inside functions, relative ones resolved."""
    inside = PKG in path.parents
    package = "" if not inside else _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("tsssl")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(
                    ["tsssl", *[p for p in package.split(".") if p]][: len(package.split(".")) + 2 - node.level]
                )
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module == "tsssl":  # from tsssl import registry -> tsssl.registry
                found |= {f"tsssl.{a.name}" for a in node.names}
            elif module.startswith("tsssl"):
                found.add(module)
    return found


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


SOURCES = sorted(PKG.rglob("*.py"))


def test_only_the_cli_imports_the_commands():
    offenders = [
        f"{_module(p)} imports {m}"
        for p in SOURCES
        if _top("tsssl." + _module(p)) not in ("commands", "cli")
        for m in _imports(p)
        if _top(m) == "commands"
    ]
    assert offenders == []


def test_imports_only_go_down():
    offenders = []
    for p in SOURCES:
        here = _top("tsssl." + _module(p))
        if here not in LAYER:  # tsssl/__init__.py loads submodules on first use
            continue
        for m in _imports(p):
            there = _top(m)
            if there in LAYER and LAYER[there] > LAYER[here] and (_module(p), there) not in ALLOWED_UP:
                offenders.append(f"{_module(p)} ({here}) imports {m} ({there})")
    assert offenders == []


@pytest.mark.parametrize("module", ["registry.py", "config.py", "budget.py"])
def test_registry_and_config_need_no_torch(module):
    names = {n.names[0].name for n in ast.walk(ast.parse((PKG / module).read_text())) if isinstance(n, ast.Import)}
    froms = {n.module for n in ast.walk(ast.parse((PKG / module).read_text())) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in names | froms if m and (m.startswith("torch") or m.startswith("tsssl.methods"))}


def test_method_files_share_helpers_through_the_base_module_only():
    siblings = {p.stem for p in (PKG / "methods").glob("*.py")} - {"__init__", "base", "build"}
    offenders = [
        f"methods.{p.stem} imports {m}"
        for p in sorted((PKG / "methods").glob("*.py"))
        if p.stem in siblings
        for m in _imports(p)
        if m.startswith("tsssl.methods.")
        and m.split(".")[2] in siblings
        # FineTune is a SupervisedBaseline with a pretrained encoder: a subclass, not a shared helper
        and (p.stem, m) != ("finetune", "tsssl.methods.supervised")
    ]
    assert offenders == []


def test_no_function_is_longer_than_80_lines():
    long = [
        f"{p.relative_to(PKG)}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
        for p in SOURCES
        for n in ast.walk(ast.parse(p.read_text()))
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 80
    ]
    assert long == []


def test_the_architecture_test_sees_real_imports(tmp_path):
    # the parser resolves relative and package imports (a check that found nothing by mistake would pass)
    assert "tsssl.methods.base" in _imports(PKG / "methods" / "siamcl.py")
    assert "tsssl.registry" in _imports(PKG / "evaluate" / "report.py")
    assert "tsssl.methods.build" in _imports(PKG / "methods" / "__init__.py")
    assert "tsssl.pipeline.cell" in _imports(PKG / "pipeline" / "grid.py")
    fake = tmp_path / "fake.py"
    fake.write_text("def f():\n    from tsssl.commands.train import run\n    import tsssl.pipeline\n")
    assert _imports(fake) == {"tsssl.commands.train", "tsssl.pipeline"}
