"""The learner's passing answers of lessons 01-05, kept for lesson 09.

Lesson 09 builds a TRM from the pieces written earlier (RMSNorm, SwiGLU, the block, the two
recursions, the halting loss, stablemax, the EMA update). Rather than paste them again, each
of those checkers is wrapped by `kept` (in `trm_lib.course.exercises`, the one list of them):
when its check passes, the learner's function or class is written, as source with what it
reads from the notebook (imports, helpers, constants), to `notebooks/my_answers/NAME.py`
(git-ignored); when it fails or is not attempted, that file is removed, so the folder always
says what each check said last.
Lesson 09 calls `check_earlier_answers()` (`trm_lib.course.exercises`), which loads each file, runs its check again
(silently) and hands back the learner's piece, or the reference with one line saying why.

Where answers are kept, and why the lessons never depend on each other's files:
- Only a lesson run from `notebooks/` (the learner's copies; Jupyter and nbval start the kernel
  in the notebook's folder) keeps answers. The solved lessons in `solutions/` neither write nor
  read them: their answers are not the learner's, and solved and unsolved lessons run in any
  order in the test run.
- FAST mode (`TRM_FAST`, the test run and CI) turns keeping off as well, so a learner's own
  answers never change what the tests see.
- `TRM_ANSWERS` overrides both: a folder to keep answers in, or `off`.
- Whatever lesson 09 loads is checked again, so an answer saved by an older course version,
  edited by hand or broken on disk falls back to the reference with a message, never a traceback.
"""
from __future__ import annotations

import ast
import contextlib
import dis
import functools
import importlib
import io
import linecache
import os
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from trm_lib.course import fast_mode
from trm_lib.data.paths import REPO

LEARNER_LESSONS = REPO / "notebooks"
KEPT = LEARNER_LESSONS / "my_answers"


@dataclass(frozen=True)
class Piece:
    name: str
    lesson: int
    check: Callable[[Any], Any]  # the checker itself, without the keeping
    reference: Any


PIECES: dict[str, Piece] = {}  # in the order lesson 09 needs them: a later piece may use an earlier one


def folder() -> Path | None:
    """Where passing answers are kept, or None when keeping is off (see the module's docstring)."""
    chosen = os.environ.get("TRM_ANSWERS", "")
    if chosen:
        return None if chosen.lower() == "off" else Path(chosen)
    if fast_mode() or Path.cwd().resolve() != LEARNER_LESSONS.resolve():
        return None
    return KEPT


def kept(check: Callable, name: str, lesson: int, reference: Any) -> Callable:
    """`check`, which now also keeps the answer for lesson 09: when it passes, the answer is
    written to `folder()`; when it fails or is not attempted, the copy kept before is removed."""
    PIECES[name] = Piece(name, lesson, check, reference)

    @functools.wraps(check)
    def checked(yours: Any) -> Any:
        handed_back = check(yours)
        where = folder()
        if where is not None:
            note = _keep(name, lesson, yours, where) if handed_back is yours else _forget(name, where)
            if note:
                print(note)
        return handed_back
    return checked


def _keep(name: str, lesson: int, yours: Any, where: Path) -> str:
    path = where / f"{name}.py"
    try:
        text = _saved_text(name, lesson, yours)
    except _CannotKeep as why:
        path.unlink(missing_ok=True)
        return f"  (not kept for lesson 09: {why}; lesson 09 will use the reference)"
    where.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(text)
    partial.replace(path)  # whole or not at all: lesson 09 never reads half a file
    return f"  kept for lesson 09 in {path.parent.name}/{path.name}"


def _forget(name: str, where: Path) -> str:
    path = where / f"{name}.py"
    if not path.exists():
        return ""
    path.unlink()
    return f"  (your earlier {name} in {where.name}/ is removed: lesson 09 will use the reference)"


class _CannotKeep(Exception):
    pass


def _saved_text(name: str, lesson: int, yours: Any) -> str:
    header = (f"# {name}: your answer to lesson {lesson:02d}, kept when its check passed. Lesson 09 reads it;\n"
              f"# run lesson {lesson:02d}'s check again to replace it.\n")
    imports, definitions = _with_what_it_reads(yours, set())
    imports.sort(key=lambda line: not line.startswith(("import ", "from ")))  # the imports, then constants
    return header + "\n".join(imports) + "\n\n\n" + "\n\n\n".join(definitions) + "\n"


def _with_what_it_reads(obj: Any, done: set[str]) -> tuple[list[str], list[str]]:
    """(imports and constants, definitions) that rebuild `obj` outside its notebook: what it reads
    from the notebook's globals, its helpers' sources, then its own. Other pieces are left out:
    lesson 09 hands in its own."""
    source, node = _source(obj)
    space = _first_function(obj).__globals__
    imports, definitions = [], []
    for name in sorted(_names_read(obj, node)):
        if name in done or name in PIECES or name not in space:
            continue  # a builtin, or a name lesson 09 provides
        done.add(name)
        value = space[name]
        if isinstance(value, types.ModuleType):
            imports.append(f"import {value.__name__}" + ("" if value.__name__ == name else f" as {name}"))
        elif isinstance(value, (bool, int, float, str, type(None))):
            imports.append(f"{name} = {value!r}")
        elif getattr(value, "__module__", None) == space.get("__name__"):
            more_imports, more_definitions = _with_what_it_reads(value, done)  # a helper of the same notebook
            imports += more_imports
            definitions += more_definitions
        elif _importable(value):
            imports.append(f"from {value.__module__} import {value.__qualname__}"
                           + ("" if value.__qualname__ == name else f" as {name}"))
        else:
            raise _CannotKeep(f"it reads `{name}`, a {type(value).__name__} made in the notebook")
    return imports, definitions + [source.rstrip()]


def _importable(value: Any) -> bool:
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
    if not module or "." in qualname or "<" in qualname:
        return False
    try:
        return getattr(importlib.import_module(module), qualname, None) is value
    except ImportError:
        return False


def _functions(obj: Any) -> list[types.FunctionType]:
    if isinstance(obj, types.FunctionType):
        return [obj]
    found = []
    for member in vars(obj).values() if isinstance(obj, type) else ():
        member = getattr(member, "__func__", getattr(member, "fget", member))  # static, class, property
        if isinstance(member, types.FunctionType):
            found.append(member)
    return found


def _first_function(obj: Any) -> types.FunctionType:
    functions = _functions(obj)
    if not functions:
        raise _CannotKeep(f"{getattr(obj, '__name__', obj)!s} has no function whose source can be read")
    return functions[0]


def _source(obj: Any) -> tuple[str, ast.AST]:
    """The definition of `obj` (a function or class) as written, found through its code object:
    a notebook cell's lines live in linecache, where `inspect` cannot find a class."""
    code = _first_function(obj).__code__
    lines = linecache.getlines(code.co_filename)
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:
        lines, tree = [], ast.Module(body=[], type_ignores=[])
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == obj.__name__:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if start <= code.co_firstlineno <= node.end_lineno:
                return textwrap.dedent("".join(lines[start - 1:node.end_lineno])), node
    raise _CannotKeep(f"the source of {obj.__name__} cannot be found (was it made by exec or a factory?)")


def _names_read(obj: Any, node: ast.AST) -> set[str]:
    """Global names `obj` reads: exactly, from the bytecode of its functions (so a parameter `x`
    is not a notebook's `x`), and from what runs at definition (bases, decorators, defaults)."""
    names, codes = set(), [f.__code__ for f in _functions(obj)]
    while codes:
        code = codes.pop()
        outer = set(code.co_freevars) - {"__class__"}  # __class__: what super() reads
        if outer:
            raise _CannotKeep(f"{obj.__name__} uses {', '.join(sorted(outer))} from a function around it")
        names |= {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return names | _read_at_definition(node)


def _read_at_definition(node: ast.AST) -> set[str]:
    names = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and child in node.body:
            continue  # a function's body runs later: its bytecode says what it reads
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):
            names.add(child.id)
        names |= _read_at_definition(child)
    return names


def bring_in_all(where: Path | None = None) -> types.SimpleNamespace:
    """Every piece marked with `kept` so far: the learner's kept answer where it loads and passes
    its check again, else the reference; one line each says which and why. `where` defaults to
    `folder()`. Lesson 09 calls it as `trm_lib.course.exercises.check_earlier_answers`, once every
    checker is marked."""
    where = folder() if where is None else where
    if where is None:
        print("Kept answers are off here (only the lessons in notebooks/ keep them, outside the test run):")
    pieces = types.SimpleNamespace()
    for piece in PIECES.values():
        value, line = _bring_in(piece, where, vars(pieces))
        setattr(pieces, piece.name, value)
        print(line)
    return pieces


def _bring_in(piece: Piece, where: Path | None, earlier: dict) -> tuple[Any, str]:
    lesson = f"lesson {piece.lesson:02d}"
    reference = f"{piece.name}: the reference"
    path = where / f"{piece.name}.py" if where is not None else None
    if path is None:
        return piece.reference, reference
    if not path.exists():
        return piece.reference, f"{reference} ({lesson}'s check has not passed yet)"
    again = f"run {lesson}'s check again to keep it afresh"
    space = {"__name__": f"my_answers.{piece.name}", **earlier}
    try:
        text = path.read_text()
        linecache.cache[str(path)] = (len(text), None, text.splitlines(True), str(path))  # for its tracebacks
        exec(compile(text, str(path), "exec"), space)
        yours = space[piece.name]
    except Exception as err:
        why = f"it defines no {piece.name}" if isinstance(err, KeyError) else f"{type(err).__name__}: {err}"
        return piece.reference, f"{reference} (your kept answer from {lesson} no longer loads, {why}; {again})"
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        passed = piece.check(yours) is yours
    if not passed:
        lines = said.getvalue().strip().splitlines() or ["it did not pass"]
        verdict = lines[0].removeprefix("✗ ").split("; using the reference")[0].split(". Using the reference")[0]
        return piece.reference, f"{reference} (your kept answer from {lesson} no longer passes its check: {verdict}; {again})"
    return yours, f"✓ {piece.name}: yours, from {lesson}"
