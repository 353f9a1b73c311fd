"""One on-disk format for every puzzle set, and the tokens the model sees.

Files are the originals' CSV (Sudoku-Extreme / Maze-Hard): a header
`source,question,answer,rating`, then one puzzle per row; gzip when the name ends in `.gz`.
- Sudoku: question and answer are N*N characters row-major, '.' (or '0') = blank, digits 1..N;
  the answer is the full solution. Rating = difficulty (see trm_lib.data.sudoku).
- Maze: question is the grid in the characters `# SG` ('#' wall, ' ' open, S start, G goal),
  answer the same grid with one shortest path marked 'o'. Rating = path length in moves.

Tokens (flattened row-major, sequence length N*N, PAD = 0 reserved):
- Sudoku: blank -> 1, digit d -> d + 1 (vocab N + 2). Every cell is a target.
- Maze: '#' ' ' 'S' 'G' 'o' -> 1 2 3 4 5 (vocab 6).
"""
from __future__ import annotations

import csv
import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from tqdm.auto import tqdm

from trm_lib.data import maze as mz
from trm_lib.data import sudoku as sd
from trm_lib.data.puzzle_csv import HEADER, iter_chunks
from trm_lib.data.tasks import MAZE_CHARS, grid_side, vocab_size

PAD = 0


@dataclass
class PuzzleSet:
    """Puzzles as tokens. inputs, labels: (P, N*N) long; ratings: (P,) long."""

    task: str  # 'sudoku' or 'maze'
    size: int  # N: grids are N x N
    inputs: torch.Tensor
    labels: torch.Tensor
    ratings: torch.Tensor
    sources: list[str]

    @property
    def vocab_size(self) -> int:
        return vocab_size(self.task, self.size)

    @property
    def seq_len(self) -> int:
        return self.size * self.size

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def subset(self, index: slice | list[int] | torch.Tensor) -> PuzzleSet:
        """The puzzles at `index` (e.g. a small slice for a fast run)."""
        idx = torch.arange(len(self))[index]
        return PuzzleSet(self.task, self.size, self.inputs[idx], self.labels[idx],
                         self.ratings[idx], [self.sources[i] for i in idx.tolist()])

    def subsample(self, count: int, seed: int) -> PuzzleSet:
        """`count` puzzles drawn without replacement, seeded, kept in file order; all if fewer.

        The official recipe trains on 1,000 of Sudoku-Extreme's 3.8M training puzzles
        (`build_sudoku_dataset.py --subsample-size 1000`); this is that draw, reproducible.
        """
        if count < 1:
            raise ValueError(f"subsample size must be at least 1, got {count}")
        if count >= len(self):
            return self
        pick = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:count]
        return self.subset(pick.sort().values)

    def to(self, device: str | torch.device) -> PuzzleSet:
        return PuzzleSet(self.task, self.size, self.inputs.to(device), self.labels.to(device),
                         self.ratings.to(device), self.sources)


# ---------------------------------------------------------------- tokens <-> strings
def _table(mapping: dict[str, int]) -> np.ndarray:
    table = np.full(256, -1, dtype=np.int64)  # -1 marks a bad character
    for ch, tok in mapping.items():
        table[ord(ch)] = tok
    return table


def _sudoku_map(size: int) -> dict[str, int]:
    return {".": 1, "0": 1, **{str(d): d + 1 for d in range(1, size + 1)}}


_MAZE_MAP = {ch: i + 1 for i, ch in enumerate(MAZE_CHARS)}


def encode(texts: list[str], task: str, size: int) -> np.ndarray:
    """Strings -> tokens (len(texts), N*N); -1 where a character is not allowed."""
    table = _table(_sudoku_map(size) if task == "sudoku" else _MAZE_MAP)
    raw = np.frombuffer("".join(texts).encode("latin-1", "replace"), dtype=np.uint8)
    return table[raw].reshape(len(texts), size * size)


def decode(tokens: torch.Tensor | np.ndarray, task: str) -> str:
    """One token sequence -> its CSV string ('.' for a Sudoku blank)."""
    toks = np.asarray(tokens.cpu() if isinstance(tokens, torch.Tensor) else tokens).reshape(-1)
    chars = "?." + "123456789" if task == "sudoku" else "?" + MAZE_CHARS
    return "".join(chars[t] if 0 < t < len(chars) else "?" for t in toks)


def to_grid(tokens: torch.Tensor | np.ndarray, task: str) -> np.ndarray:
    """Tokens -> the (N, N) grid of trm_lib.data.sudoku (digits, 0 blank) or trm_lib.data.maze (codes)."""
    toks = np.asarray(tokens.cpu() if isinstance(tokens, torch.Tensor) else tokens).reshape(-1)
    n = grid_side(toks.size, task, what="token sequence")
    return (np.maximum(toks - 1, 0) if task == "sudoku" else toks).reshape(n, n)


# ---------------------------------------------------------------- reading
def _open_text(path: Path, mode: str) -> io.TextIOBase:
    if path.suffix == ".gz":
        if "w" in mode:  # mtime 0: the same rows give the same bytes
            raw = gzip.GzipFile(filename="", mode="wb", fileobj=open(path, "wb"), mtime=0)
            return io.TextIOWrapper(raw, encoding="utf-8", newline="")
        return gzip.open(path, mode + "t", encoding="utf-8", newline="")
    return open(path, mode, encoding="utf-8", newline="")


def read_rows(path: str | Path) -> list[tuple[int, list[str]]]:
    """(line number, [source, question, answer, rating]) for every row after the header."""
    return [row for chunk in iter_chunks(path) for row in chunk]


def infer_task_and_size(question: str) -> tuple[str, int]:
    """'sudoku' if most characters are '.' and digits, else 'maze'; N from the length.
    (A Sudoku with a stray letter is still a Sudoku, so the letter is what gets named.)"""
    sudoku_chars = sum(ch in ".0123456789" for ch in question)
    maze_chars = sum(ch in MAZE_CHARS for ch in question)
    task = "sudoku" if sudoku_chars > maze_chars else "maze"
    return task, grid_side(len(question), task, what="question")


def load_puzzles(path: str | Path, verify: bool = False, progress: bool = False) -> PuzzleSet:
    """Read a puzzle CSV (ours or the originals') into tensors, checking every row.

    Always checked: field count, lengths, characters, Sudoku givens clashing or
    disagreeing with the answer, a complete and valid Sudoku answer, one S and one G, the
    maze answer keeping the question's cells. With `verify`, also solved: each Sudoku has
    exactly one solution equal to the answer, each maze answer is a shortest path.
    Any problem raises ValueError naming the file, the line and the problem. `progress`
    shows a bar while a large file is read.
    """
    parts = []
    # a bar of rows read, shown when reading takes more than two seconds (the original
    # Sudoku-Extreme training file has 3.8M rows)
    with tqdm(desc=f"reading {Path(path).name}", unit=" rows", unit_scale=True, delay=2.0, leave=False,
              disable=not progress) as bar:
        for chunk in iter_chunks(path):
            parts.append(parse_rows(path, chunk, verify))
            bar.update(len(chunk))
    first = parts[0]
    for part in parts[1:]:
        if (part.task, part.size) != (first.task, first.size):
            raise ValueError(f"{path}: mixes {first.size}x{first.size} {first.task} and "
                             f"{part.size}x{part.size} {part.task} puzzles")
    if len(parts) == 1:
        return first
    return PuzzleSet(first.task, first.size, torch.cat([p.inputs for p in parts]),
                     torch.cat([p.labels for p in parts]), torch.cat([p.ratings for p in parts]),
                     [src for p in parts for src in p.sources])


def require_puzzle_set(value: Any, name: str = "puzzles", also: tuple[type, ...] = ()) -> None:
    """Refuse an argument that is not a PuzzleSet (or one of `also`), naming it and what it expects."""
    if not isinstance(value, (PuzzleSet, *also)):
        others = "".join(f" or {kind.__name__} ({kind.__module__})" for kind in also)
        raise TypeError(f"{name} must be a PuzzleSet (trm_lib.data.puzzles.load_puzzles reads one){others}, "
                        f"got {type(value).__name__}")


def parse_rows(path: str | Path, rows: list[tuple[int, list[str]]], verify: bool = False) -> PuzzleSet:
    """Rows of `path` (from trm_lib.data.puzzle_csv.iter_chunks) as a checked PuzzleSet."""
    for line, row in rows:
        for name, text in (("question", row[1]), ("answer", row[2])):
            if not text.strip():
                raise ValueError(f"{path}, line {line}: the {name} is empty")
    try:
        task, size = infer_task_and_size(rows[0][1][1])
    except ValueError as err:
        raise ValueError(f"{path}, line {rows[0][0]}: {err}") from None

    def fail(i: int, problem: str) -> None:
        raise ValueError(f"{path}, line {rows[i][0]}: {problem}")

    for i, (_, (_, q, a, _)) in enumerate(rows):
        for name, text in (("question", q), ("answer", a)):
            if len(text) != size * size:
                fail(i, f"{name} has {len(text)} cells, expected {size * size} ({size}x{size} {task})")
    inputs = encode([r[1][1] for r in rows], task, size)
    labels = encode([r[1][2] for r in rows], task, size)
    for name, toks, texts in (("question", inputs, 1), ("answer", labels, 2)):
        bad = np.argwhere(toks < 0)
        if len(bad):
            i, cell = bad[0]
            char = rows[i][1][texts][cell]
            if char == "?":
                fail(i, f"no value in the {name} at cell {cell + 1} ('?': a cell the model left as padding, "
                        "as `eval --predictions-out` writes it); such a row is no answer")
            else:
                fail(i, f"bad character {char!r} in {name} at cell {cell + 1}")
    ratings = []
    for i, (_, row) in enumerate(rows):
        try:
            ratings.append(int(row[3]) if row[3].strip() else 0)
        except ValueError:
            fail(i, f"rating {row[3]!r} is not an integer")
        if not 0 <= ratings[-1] < 2 ** 63:
            fail(i, f"rating {row[3]} is outside 0 to 2^63-1 (a rating counts dead ends or moves)")
    check = _check_sudoku if task == "sudoku" else _check_maze
    problem = check(inputs, labels, size, verify)
    if problem is not None:
        fail(*problem)
    return PuzzleSet(task, size, torch.from_numpy(inputs), torch.from_numpy(labels),
                     torch.tensor(ratings, dtype=torch.long), [r[1][0] for r in rows])


def _check_sudoku(inputs: np.ndarray, labels: np.ndarray, size: int, verify: bool):
    puzzles, answers = inputs - 1, labels - 1  # digits, 0 = blank
    for i in np.flatnonzero((answers == 0).any(1))[:1]:
        return i, f"answer has a blank at cell {int(np.argmax(answers[i] == 0)) + 1}"
    wrong = (puzzles != 0) & (puzzles != answers)
    for i in np.flatnonzero(wrong.any(1))[:1]:
        cell = int(np.argmax(wrong[i]))
        return i, (f"given {puzzles[i, cell]} at row {cell // size + 1}, column "
                   f"{cell % size + 1} disagrees with the answer's {answers[i, cell]}")
    units = np.array(sd.geometry(size).units)  # (3N, N) cells
    for name, grids in (("question", puzzles), ("answer", answers)):
        for start in range(0, len(grids), 20_000):  # chunks bound the memory
            onehot = grids[start:start + 20_000, units, None] == np.arange(1, size + 1)  # (P, 3N, N, N)
            for i in np.flatnonzero((onehot.sum(2) > 1).any((1, 2)))[:1]:
                return start + i, f"clashing digits in the {name}: {sd.clashes(grids[start + i])[0]}"
    if verify:
        for i in range(len(puzzles)):
            result = sd.solve(puzzles[i], limit=2)
            if result.count != 1:
                return i, "puzzle has no solution" if result.count == 0 else "puzzle has several solutions"
            if not np.array_equal(result.solution.reshape(-1), answers[i]):
                return i, "the answer is not the puzzle's solution"
    return None


def _check_maze(inputs: np.ndarray, labels: np.ndarray, size: int, verify: bool):
    for i in np.flatnonzero((inputs == mz.PATH).any(1))[:1]:
        return i, "question contains path cells 'o'"
    for code, name in ((mz.START, "start S"), (mz.GOAL, "goal G")):
        counts = (inputs == code).sum(1)
        for i in np.flatnonzero(counts != 1)[:1]:
            return i, f"maze has {counts[i]} cells marked {name}, expected exactly 1"
    changed = (labels != inputs) & ~((inputs == mz.OPEN) & (labels == mz.PATH))
    for i in np.flatnonzero(changed.any(1))[:1]:
        return i, f"answer differs from the question at cell {int(np.argmax(changed[i])) + 1}"
    if verify:
        for i in range(len(inputs)):
            problem = mz.path_problem(inputs[i], labels[i])
            if problem is not None:
                return i, f"answer is not a shortest path: {problem}"
    return None


# ---------------------------------------------------------------- writing
def write_rows(path: str | Path, rows: Iterable[tuple[str, str, str, int]]) -> int:
    """Write (source, question, answer, rating) rows with the header; returns the count.

    Rows go to a temporary file renamed at the end, so a failed run leaves no half file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial{path.suffix}")  # same suffix: same gzip choice
    n = 0
    try:
        with _open_text(tmp, "w") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(HEADER)
            for row in rows:
                writer.writerow(row)
                n += 1
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def save_puzzles(puzzle_set: PuzzleSet, path: str | Path) -> int:
    """Write a PuzzleSet in the CSV format (the inverse of `load_puzzles`)."""
    rows = ((src, decode(x, puzzle_set.task), decode(y, puzzle_set.task), int(r))
            for src, x, y, r in zip(puzzle_set.sources, puzzle_set.inputs,
                                    puzzle_set.labels, puzzle_set.ratings))
    return write_rows(path, rows)
