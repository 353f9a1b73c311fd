"""The learner's notebooks are generated from the solved ones.

`solutions/NN_name.ipynb` is the one source of a lesson. Each exercise's answer sits between

    ### BEGIN SOLUTION
    ...
    ### END SOLUTION

and `notebooks/NN_name.ipynb` is the same notebook with each such block replaced by a stub
that raises NotImplementedError (so the check cell after it says "not attempted yet, using
the reference" and the lesson carries on). `python -m trm_lib lessons` regenerates them;
`tests/test_lessons.py` fails when the two folders drift apart.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from trm_lib.data.paths import REPO

SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"
_BLOCK = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*(\n|$)", re.S | re.M)
STUB = '{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError("exercise: write this part, then run the check below")\n'


def strip_solutions(source: str) -> str:
    """Replace every solution block by the stub, keeping its indentation."""
    if source.count("### BEGIN SOLUTION") != source.count("### END SOLUTION"):
        raise ValueError("a cell has a BEGIN SOLUTION without its END SOLUTION (or the reverse)")
    return _BLOCK.sub(lambda m: STUB.format(indent=m.group(1)), source)


_ANSWER = re.compile(r"<!-- BEGIN ANSWER -->.*?<!-- END ANSWER -->", re.S)
ANSWER_STUB = "*Your answer:* (the solved copy in `solutions/` has one to compare with)"


def strip_answers(markdown: str) -> str:
    """Replace every concept question's answer, `<!-- BEGIN ANSWER -->...<!-- END ANSWER -->`
    in a markdown cell, by a line for the learner's own."""
    if markdown.count("<!-- BEGIN ANSWER -->") != markdown.count("<!-- END ANSWER -->"):
        raise ValueError("a markdown cell has a BEGIN ANSWER without its END ANSWER (or the reverse)")
    return _ANSWER.sub(ANSWER_STUB, markdown)


CHECK_CALL = re.compile(r"\bcheck_\w+\(")  # a call of one of trm_lib.course.exercises' checkers


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _scan(node: ast.AST) -> tuple[set[str], set[str]]:
    """(names `node` reads from outside, names it binds where it stands). A function, class,
    lambda or comprehension reads what its body reads less its own locals, and binds its name."""
    if isinstance(node, ast.Name):
        return ({node.id}, set()) if isinstance(node.ctx, ast.Load) else (set(), {node.id})
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return set(), {(a.asname or a.name).split(".")[0] for a in node.names}
    loads, stores = set(), set()
    for child in ast.iter_child_nodes(node):
        r, b = _scan(child)
        loads |= r
        stores |= b
    if isinstance(node, ast.arg):
        stores.add(node.arg)
    if isinstance(node, _SCOPES):
        return loads - stores, {node.name} if hasattr(node, "name") else set()
    return loads, stores


_MUTATORS = {"append", "extend", "update", "add", "insert", "setdefault", "copy_", "add_", "mul_"}


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _mutated(stmt: ast.AST) -> set[str]:
    """Names a statement changes in place: `xs.append(v)`, `d[k] = v`, `m.w = v`."""
    roots = set()
    for n in ast.walk(stmt):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _MUTATORS:
            roots.add(_root(n.func.value))
        elif isinstance(n, (ast.Attribute, ast.Subscript)) and isinstance(n.ctx, ast.Store):
            roots.add(_root(n))
    return roots - {None}


def _statements(source: str) -> list[tuple[set[str], set[str]]]:
    """(names read from earlier cells, names bound or changed) of each top-level statement of a
    cell: `y = f(y)` reads y, a loop variable is bound by its loop, `xs.append(v)` changes xs. IPython's %magic and !shell lines
    are left out; a cell that does not parse is one statement that reads every identifier."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return [(set(re.findall(r"[A-Za-z_]\w*", code)), set())]
    out, bound = [], set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and stmt.value is not None:
            loads = _scan(stmt.value)[0]
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            stores = set().union(*(_scan(t)[1] for t in targets))
            loads |= set().union(*(_scan(t)[0] for t in targets))  # x[i] = ... reads x
            if isinstance(stmt, ast.AugAssign):
                loads |= stores
        else:
            loads, stores = _scan(stmt)
            loads -= stores
        out.append((loads - bound, stores | _mutated(stmt)))
        bound |= stores
    return out


def learner_dependent_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of the code cells whose outputs depend on the learner's code: the exercise cells,
    the cells that check them, and every later cell with a statement that reads a name such a
    statement bound. Their stored outputs are the reference's, which the learner's copy must
    not show under code not yet written."""
    tainted: set[str] = set()
    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        exercise = "### BEGIN SOLUTION" in cell.source
        depends = exercise
        for reads, binds in _statements(cell.source):
            if exercise or reads & tainted or any(r.startswith("check_") for r in reads):
                depends = True
                tainted |= binds
            else:
                tainted -= binds  # bound from the reference's code alone
        if depends:
            cells.append(i)
    return cells


OUTPUTS_NOTE = ("*The outputs already shown come from a run of the solved lesson on a 2-core CPU, as a "
                "preview; the cells that use your code are empty until you run them.*")


def learner_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook a learner gets: solutions and concept-question answers stubbed; the outputs cleared of stubbed cells, of
    the cells that check an exercise (a stored "matches the reference" would be a pass the
    learner has not earned yet) and of the cells that use what the learner wrote."""
    out = nbformat.from_dict(nb)
    for cell in out.cells:
        if cell.cell_type == "markdown":
            cell.source = strip_answers(cell.source)
    cleared = learner_dependent_cells(out)
    for i in cleared:
        cell = out.cells[i]
        cell.source = strip_solutions(cell.source)
        cell.outputs = []
        cell.execution_count = None
    if cleared and out.cells and out.cells[0].cell_type == "markdown":
        note = nbformat.v4.new_markdown_cell(OUTPUTS_NOTE)
        note.id = "outputs-note"  # fixed, so that regenerating does not change the file
        out.cells.insert(1, note)
    return out


@dataclass
class Generated:
    """What `generate` did: the notebooks written, those kept because they hold edits, the backups."""

    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)
    unreadable: dict[Path, str] = field(default_factory=dict)  # kept ones that do not load, and why


def fingerprint(nb: nbformat.NotebookNode) -> str:
    """A hash of the cells' types and sources: what a learner's edits change, and running cells does not."""
    return hashlib.sha256(json.dumps(sources(nb)).encode()).hexdigest()


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at `path`, or a ValueError that names the file and what is wrong with it."""
    try:
        return nbformat.read(path, as_version=4)
    except (ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError) as err:
        raise ValueError(f"{path.name} is not a readable notebook ({type(err).__name__}: {err})") from None


def holds_edits(path: Path, new: nbformat.NotebookNode) -> bool:
    """True when the notebook at `path` was edited after it was generated (so it may hold a
    learner's work); False when it is missing, untouched since generated, or already `new`.
    A ValueError names a notebook that does not load at all."""
    if not path.exists():
        return False
    old = read_notebook(path)
    if sources(old) == sources(new):
        return False
    return old.metadata.get("trm_lib", {}).get("sources_sha256") != fingerprint(old)


def generate(solutions: Path = SOLUTIONS, notebooks: Path = NOTEBOOKS, force: bool = False) -> Generated:
    """Write the learner's copy of every solved lesson. A copy that holds edits is kept as it is,
    or, with `force`, copied to NAME.ipynb.bak first and then overwritten."""
    done = Generated()
    for src in sorted(solutions.glob("*.ipynb")):
        nb = learner_version(read_notebook(src))
        nb.metadata["trm_lib"] = {"generated_from": f"solutions/{src.name}", "sources_sha256": fingerprint(nb)}
        dst = notebooks / src.name
        try:
            edited = holds_edits(dst, nb)
        except ValueError as err:  # damaged, perhaps mid-way through a learner's work: never overwritten unasked
            edited = True
            done.unreadable[dst] = str(err)
        if edited:
            if not force:
                done.kept.append(dst)
                continue
            backup = dst.with_name(dst.name + ".bak")
            shutil.copy2(dst, backup)
            done.backups.append(backup)
        nbformat.write(nb, dst)
        done.written.append(dst)
    return done


def sources(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(cell type, source) of every cell: what must agree between the two folders."""
    return [(c.cell_type, c.source) for c in nb.cells]
