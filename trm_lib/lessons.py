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

import re
from pathlib import Path

import nbformat

from trm_lib.paths import REPO

SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"
_BLOCK = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*(\n|$)", re.S | re.M)
STUB = '{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError("exercise: write this part, then run the check below")\n'


def strip_solutions(source: str) -> str:
    """Replace every solution block by the stub, keeping its indentation."""
    if source.count("### BEGIN SOLUTION") != source.count("### END SOLUTION"):
        raise ValueError("a cell has a BEGIN SOLUTION without its END SOLUTION (or the reverse)")
    return _BLOCK.sub(lambda m: STUB.format(indent=m.group(1)), source)


CHECK_CALL = re.compile(r"\bcheck_\w+\(")  # a call of one of trm_lib.exercises' checkers


def learner_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook a learner gets: solutions stubbed; the outputs of stubbed cells and of the
    cells that check an exercise cleared (a stored "matches the reference" would be a pass the
    learner has not earned yet)."""
    out = nbformat.from_dict(nb)
    for cell in out.cells:
        if cell.cell_type != "code":
            continue
        if "### BEGIN SOLUTION" in cell.source:
            cell.source = strip_solutions(cell.source)
        elif not CHECK_CALL.search(cell.source):
            continue
        cell.outputs = []
        cell.execution_count = None
    return out


def generate(solutions: Path = SOLUTIONS, notebooks: Path = NOTEBOOKS) -> list[Path]:
    """Write the learner's copy of every solved lesson; return the files written."""
    written = []
    for src in sorted(solutions.glob("*.ipynb")):
        nb = nbformat.read(src, as_version=4)
        dst = notebooks / src.name
        nbformat.write(learner_version(nb), dst)
        written.append(dst)
    return written


def sources(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(cell type, source) of every cell: what must agree between the two folders."""
    return [(c.cell_type, c.source) for c in nb.cells]
