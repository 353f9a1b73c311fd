"""The layout is the architecture: the reference TRM (the modules at the top of `trm_lib`) and
the puzzles (`trm_lib/data/`) import nothing from the parts built on them (`viz`, `course`,
`experiments`, `cli`), so the core can be read, copied or trained without any of those."""
from __future__ import annotations

import ast
from pathlib import Path

import trm_lib

LIB = Path(trm_lib.__file__).resolve().parent
UPPER = ("viz", "course", "experiments", "cli")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, at any depth (imports inside functions count)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from trm_lib import viz` names the part as an imported name, not in the module
            found += [(node.lineno, f"{node.module}.{a.name}" if node.module == "trm_lib" else node.module)
                      for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError(f"{path}:{node.lineno}: relative import; write it as `from trm_lib.... import ...`")
    return found


def upward_imports(files: list[Path], root: Path = LIB) -> list[str]:
    return [f"{path.relative_to(root)}:{line} imports {module}"
            for path in files for line, module in imported_modules(path)
            if any(module == f"trm_lib.{part}" or module.startswith(f"trm_lib.{part}.") for part in UPPER)]


def core_and_data_files() -> list[Path]:
    return sorted(LIB.glob("*.py")) + sorted((LIB / "data").glob("*.py"))


def test_the_core_and_data_import_nothing_from_viz_course_experiments_or_cli():
    files = [p for p in core_and_data_files() if p.name != "__main__.py"]  # `python -m trm_lib` runs the cli
    assert len(files) > 15, "the core and data modules were not found"
    bad = upward_imports(files)
    assert not bad, "the core and data/ must not import the parts built on them:\n" + "\n".join(bad)


def test_the_layout_check_sees_an_upward_import_inside_a_function(tmp_path):
    (tmp_path / "model.py").write_text("import torch\n\ndef f():\n    from trm_lib.viz.draw import draw_sudoku\n")
    (tmp_path / "act.py").write_text("from trm_lib import cli\nfrom trm_lib.data import maze\n")
    assert upward_imports([tmp_path / "model.py", tmp_path / "act.py"], root=tmp_path) == [
        "model.py:4 imports trm_lib.viz.draw", "act.py:1 imports trm_lib.cli"]
