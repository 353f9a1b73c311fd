"""ARC-AGI puzzles as the official TRM builder makes them (`dataset/build_arc_dataset.py`):
the tokens, the 30x30 canvas, the 8 dihedral maps, and the augmented puzzle groups, drawn
from the same random stream so that a seed gives the official puzzles.

    tokens      PAD 0, EOS 1, colours 0-9 -> 2-11 (vocabulary 12)
    canvas      each grid at (row, col) on an S x S canvas, an EOS row below it and an EOS
                column right of it where they fit; input and output share the offset
    a task      its demonstrations and test pairs; one augmentation = one dihedral map and
                one permutation of the colours 1-9 (0 stays), the same for every pair
    a group     a task's puzzles: the original, then up to `num_aug` distinct augmentations
                (at most 5 x num_aug draws; a puzzle equal to one already kept is dropped)

The draw order is the official one, with numpy's legacy generator seeded once: the tasks of
each subset are shuffled, then every task draws its augmentations (`trans_id`, then the
colour permutation), task after task, subset after subset.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

PAD, EOS, COLOUR0 = 0, 1, 2
ARC_VOCAB = 12
MAX_GRID = 30
RETRIES = 5  # draws per wanted augmentation, at most

# the inverse of dihedral map t is DIHEDRAL_INVERSE[t] (the rotations by 90 and 270 degrees
# undo each other; the other maps undo themselves)
DIHEDRAL_INVERSE = (0, 3, 2, 1, 4, 5, 6, 7)


def dihedral(grid: np.ndarray, tid: int) -> np.ndarray:
    """The official ids: 0 identity, 1-3 rotations by 90, 180, 270 degrees (counter-clockwise),
    4 left-right flip, 5 up-down flip, 6 transpose, 7 anti-transpose."""
    if tid == 0:
        return grid
    if tid in (1, 2, 3):
        return np.rot90(grid, k=tid)
    if tid == 4:
        return np.fliplr(grid)
    if tid == 5:
        return np.flipud(grid)
    if tid == 6:
        return grid.T
    if tid == 7:
        return np.fliplr(np.rot90(grid, k=1))
    raise ValueError(f"a dihedral map id is 0-7, got {tid}")


@dataclass(frozen=True)
class Augmentation:
    """One dihedral map and one colour permutation (`colours[c]` is the new colour of c)."""

    tid: int = 0
    colours: tuple[int, ...] = tuple(range(10))

    @property
    def name(self) -> str:
        """The official suffix of an augmented puzzle's name: `|||t<tid>|||<colours>`."""
        return f"|||t{self.tid}|||{''.join(map(str, self.colours))}"

    def apply(self, grid: np.ndarray) -> np.ndarray:
        return dihedral(np.asarray(self.colours, dtype=np.uint8)[grid], self.tid)

    def invert(self, grid: np.ndarray) -> np.ndarray:
        """The grid in the original task's frame: the inverse map, then the inverse colours."""
        return np.argsort(self.colours).astype(np.uint8)[dihedral(grid, DIHEDRAL_INVERSE[self.tid])]


IDENTITY = Augmentation()


@dataclass
class ArcTask:
    """A task: its demonstrations (`train`) and test pairs, grids as uint8 arrays."""

    id: str
    train: list[tuple[np.ndarray, np.ndarray]]
    test: list[tuple[np.ndarray, np.ndarray]]


def draw_augmentation(rng: np.random.RandomState) -> Augmentation:
    tid = int(rng.randint(0, 8))
    colours = np.concatenate([[0], rng.permutation(np.arange(1, 10, dtype=np.uint8))])
    return Augmentation(tid, tuple(int(c) for c in colours))


def _key(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple:
    """What makes two puzzles the same: their (input, output) pairs as a multiset."""
    return tuple(sorted((i.shape, i.tobytes(), o.shape, o.tobytes()) for i, o in pairs))


def augment_task(task: ArcTask, num_aug: int, rng: np.random.RandomState) -> list[Augmentation]:
    """The original, then up to `num_aug` distinct augmentations of `task`, in the official
    draw order (every pair of the task, demonstrations and tests, decides what is distinct)."""
    pairs = task.train + task.test
    kept, seen = [IDENTITY], {_key(pairs)}
    for _ in range(RETRIES * num_aug if num_aug > 0 else 0):
        aug = draw_augmentation(rng)
        key = _key([(aug.apply(i), aug.apply(o)) for i, o in pairs])
        if key not in seen:
            seen.add(key)
            kept.append(aug)
        if len(kept) > num_aug:
            break
    return kept


def build_groups(subsets: list[tuple[str, list[ArcTask]]], num_aug: int = 1000, seed: int = 42,
                 rng: np.random.RandomState | None = None,
                 progress: bool = False) -> list[tuple[str, ArcTask, list[Augmentation]]]:
    """Every task of the `(subset name, tasks)` list with its augmentations, in the official
    order: each subset shuffled, then augmented task by task. `rng` (default: seeded with
    `seed`) goes on to draw the rest of the build, as the official's one global stream does."""
    rng = np.random.RandomState(seed) if rng is None else rng
    groups = []
    with tqdm(total=sum(len(t) for _, t in subsets), desc="augmenting ARC tasks", unit=" tasks", delay=2.0,
              leave=False, disable=not progress) as bar:
        for subset, tasks in subsets:
            order = list(tasks)
            rng.shuffle(order)
            for task in order:
                groups.append((subset, task, augment_task(task, num_aug, rng)))
                bar.update(1)
    return groups


def to_canvas(grid: np.ndarray, row: int = 0, col: int = 0, size: int = MAX_GRID) -> np.ndarray:
    """(size * size,) tokens: the grid's colours + 2 at (row, col), EOS below and to its right
    where they fit, PAD elsewhere."""
    h, w = grid.shape
    if row + h > size or col + w > size:
        raise ValueError(f"a {h}x{w} grid at ({row}, {col}) does not fit a {size}x{size} canvas")
    canvas = np.zeros((size, size), dtype=np.uint8)
    canvas[row:row + h, col:col + w] = grid + COLOUR0
    if row + h < size:
        canvas[row + h, col:col + w] = EOS
    if col + w < size:
        canvas[row:row + h, col + w] = EOS
    return canvas.reshape(-1)
