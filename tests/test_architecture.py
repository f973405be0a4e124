"""The shape of the package: imports run one way (faces -> services -> storage), nothing in the
package imports the flows, and the vocabularies stay free of the ORM."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
FACES = {"workspace", "cli", "widgets", "portal", "__init__"}  # faces: may import anything in the package
SERVICES = {"analyses", "collaboration", "reports", "studio"}


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by a file (relative imports resolved)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


MODULES = sorted(PACKAGE.rglob("*.py"))


def _top(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    return rel[0]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way(path):
    imported = _imports(path)
    assert not any(m == "flows" or m.startswith("flows.") for m in imported), "the package never imports flows/"
    top = _top(path)
    if top in FACES:
        return
    assert not any(m.startswith("workbench.workspace") or m.startswith("workbench.cli") for m in imported), \
        "services and storage never import the faces"
    if top == "storage":
        assert not any(m.split(".")[1] in SERVICES for m in imported if m.startswith("workbench.") and "." in m), \
            "storage never imports a service"
    if top in ("domain", "errors", "config"):
        assert not any(m.startswith("workbench.storage") for m in imported)


def test_providers_and_params_do_not_import_the_orm():
    for path in [*(PACKAGE / "studio" / "providers").glob("*.py"), PACKAGE / "studio" / "params.py",
                 PACKAGE / "domain.py", PACKAGE / "collaboration" / "access.py"]:
        assert "workbench.storage.models" not in _imports(path), path


def test_modules_stay_small():
    big = {str(p.relative_to(PACKAGE)): n for p in MODULES
           if (n := len(p.read_text().splitlines())) > 450 and "migrations" not in p.parts}
    assert big == {}, f"split these modules: {big}"
