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

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
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


@dataclass
class Generated:
    """What `generate` did: the notebooks written, those kept because they hold edits, the backups."""

    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)


def fingerprint(nb: nbformat.NotebookNode) -> str:
    """A hash of the cells' types and sources: what a learner's edits change, and running cells does not."""
    return hashlib.sha256(json.dumps(sources(nb)).encode()).hexdigest()


def holds_edits(path: Path, new: nbformat.NotebookNode) -> bool:
    """True when the notebook at `path` was edited after it was generated (so it may hold a
    learner's work); False when it is missing, untouched since generated, or already `new`."""
    if not path.exists():
        return False
    old = nbformat.read(path, as_version=4)
    if sources(old) == sources(new):
        return False
    return old.metadata.get("trm_lib", {}).get("sources_sha256") != fingerprint(old)


def generate(solutions: Path = SOLUTIONS, notebooks: Path = NOTEBOOKS, force: bool = False) -> Generated:
    """Write the learner's copy of every solved lesson. A copy that holds edits is kept as it is,
    or, with `force`, copied to NAME.ipynb.bak first and then overwritten."""
    done = Generated()
    for src in sorted(solutions.glob("*.ipynb")):
        nb = learner_version(nbformat.read(src, as_version=4))
        nb.metadata["trm_lib"] = {"generated_from": f"solutions/{src.name}", "sources_sha256": fingerprint(nb)}
        dst = notebooks / src.name
        if holds_edits(dst, nb):
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
