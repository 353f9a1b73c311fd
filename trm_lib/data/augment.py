"""Augmentation of token batches on any device, and the training batches drawn with it.

Sudoku: permute bands and rows within bands, stacks and columns within stacks, transpose
with probability 1/2 where boxes are square (4 x 4, 9 x 9; never 6 x 6), relabel digits.
Maze: one of the 8 symmetries of the square. The same transform is applied to the inputs
and labels of a puzzle, so a valid solution stays valid. Everything is index gathers, cheap
enough to run on every training step, on the GPU too.

Two ways to draw training batches: a fresh symmetry for every draw (`sample_batch`), or the
official pipeline's fixed pool of symmetries per puzzle visited in epochs (`AugmentPool`).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from trm_lib.device import to_device
from trm_lib.data.maze import dihedral_perms
from trm_lib.data.puzzles import PuzzleSet
from trm_lib.data.tasks import BOX_SHAPES


def _line_perms(batch: int, size: int, group: int, gen: torch.Generator) -> torch.Tensor:
    """(B, size) random line orders: blocks of `group` lines shuffled, lines within too."""
    blocks = size // group
    dev = gen.device
    block_order = torch.rand(batch, blocks, generator=gen, device=dev).argsort(1)  # (B, blocks)
    inner = torch.rand(batch, blocks, group, generator=gen, device=dev).argsort(2)  # (B, blocks, group)
    return (block_order[:, :, None] * group + inner).reshape(batch, size)


def sudoku_draw(batch: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """(B, 3N+1) long: random Sudoku symmetries as parameters on gen.device.

    Columns: the row order (N), the column order (N), transpose (1: 0 or 1), the digit
    order (N, values 0..N-1). `sudoku_build` turns them into gathers.
    """
    br, bc = BOX_SHAPES[size]
    dev = gen.device
    rows = _line_perms(batch, size, br, gen)
    cols = _line_perms(batch, size, bc, gen)
    flip = torch.zeros(batch, 1, dtype=torch.long, device=dev)
    if br == bc:  # only square boxes survive a transpose
        flip = (torch.rand(batch, generator=gen, device=dev) < 0.5).long()[:, None]
    digits = torch.rand(batch, size, generator=gen, device=dev).argsort(1)  # (B, N)
    return torch.cat([rows, cols, flip, digits], 1)


def sudoku_build(params: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Parameters (B, 3N+1) of `sudoku_draw` -> cell index (B, N*N) and token map (B, N+2)."""
    params = params.long()
    batch, dev = params.shape[0], params.device
    rows, cols = params[:, :size], params[:, size:2 * size]
    flip, digits = params[:, 2 * size].bool(), params[:, 2 * size + 1:]
    index = rows[:, :, None] * size + cols[:, None, :]  # (B, N, N)
    index = torch.where(flip[:, None, None], index.transpose(1, 2), index)
    fixed = torch.tensor([0, 1], device=dev).expand(batch, 2)
    return index.reshape(batch, size * size), torch.cat([fixed, digits + 2], 1)


def sudoku_transforms(batch: int, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random Sudoku symmetries: cell index (B, N*N) and token map (B, N+2) on gen.device.

    Apply as `token_map.gather(1, tokens.gather(1, index))`; PAD 0 and blank 1 map to
    themselves, digit tokens 2..N+1 are permuted.
    """
    return sudoku_build(sudoku_draw(batch, size, gen), size)


def draw_transforms(batch: int, task: str, size: int, gen: torch.Generator) -> torch.Tensor:
    """(B, K) long parameters of random symmetries: Sudoku as `sudoku_draw`, maze (B, 1) in 0..7."""
    if task == "maze":
        return torch.randint(8, (batch, 1), generator=gen, device=gen.device)
    if task != "sudoku":
        raise ValueError(f"unknown task {task!r}; expected 'sudoku' or 'maze'")
    return sudoku_draw(batch, size, gen)


def identity_transform(task: str, size: int) -> torch.Tensor:
    """(K,) the parameters that leave a puzzle as it is."""
    if task == "maze":
        return torch.zeros(1, dtype=torch.long)  # dihedral_perms[0] is the identity
    line = torch.arange(size)
    return torch.cat([line, line, torch.zeros(1, dtype=torch.long), line])


def apply_transforms(inputs: torch.Tensor, labels: torch.Tensor, task: str, size: int,
                     params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the symmetries `params` (B, K) of `draw_transforms` to a batch of puzzles."""
    params = to_device(params, inputs.device)  # pinned and non-blocking on CUDA: no wait per step
    if task == "maze":
        perms = torch.as_tensor(dihedral_perms(size), device=inputs.device)
        index = perms[params[:, 0].long()]
        return inputs.gather(1, index), labels.gather(1, index)
    index, token_map = sudoku_build(params, size)
    return (token_map.gather(1, inputs.gather(1, index)),
            token_map.gather(1, labels.gather(1, index)))


def augment_batch(inputs: torch.Tensor, labels: torch.Tensor, task: str, size: int,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A fresh random symmetry per puzzle. inputs, labels: (B, N*N) long tokens, any device.

    Random numbers come from `generator` (on its own device) and are moved to the data.
    """
    batch, seq = inputs.shape
    if seq != size * size or labels.shape != inputs.shape:
        raise ValueError(f"batch has shapes {tuple(inputs.shape)} and {tuple(labels.shape)}; "
                         f"expected (B, {size * size}) for {size}x{size} {task}")
    params = draw_transforms(batch, task, size, generator)
    return apply_transforms(inputs, labels, task, size, params)


def sample_batch(puzzle_set: PuzzleSet, batch_size: int, generator: torch.Generator,
                 augment: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` puzzles drawn with replacement (augmented unless told not to).

    Returns (inputs, labels), each (B, N*N) long, on the puzzle set's device.
    """
    pick = to_device(torch.randint(len(puzzle_set), (batch_size,), generator=generator,
                                   device=generator.device), puzzle_set.inputs.device)
    x, y = puzzle_set.inputs[pick], puzzle_set.labels[pick]
    if augment:
        x, y = augment_batch(x, y, puzzle_set.task, puzzle_set.size, generator)
    return x, y


_POOL_BYTES_MAX = 2 ** 31  # 2 GiB of stored symmetries: 1,000 x 1,001 Sudoku pools take 28 MB


class AugmentPool:
    """The official pipeline's sampling: a fixed pool of augmentations per puzzle, in epochs.

    The official Sudoku builder stores, for every training puzzle, the original plus `pool`
    random symmetries of it (`--num-aug 1000`): a group of pool + 1 members. Training
    visits the groups in epochs (a fresh random order each epoch, every group once) and
    takes a random member of each visited group. Batch k is positions k*B .. (k+1)*B - 1
    of the endless sequence of epoch orders, so a batch can run on into the next epoch.

    We store each member's symmetry (a few bytes), not the augmented puzzle, and apply it
    when the batch is drawn. With augment=False every group is the original alone.
    """

    def __init__(self, puzzle_set: PuzzleSet, pool: int, seed: int, augment: bool = True):
        if pool < 1:
            raise ValueError(f"augment_pool must be >= 1 for a pool, got {pool} (0 means no pool)")
        self.puzzles, self.seed = puzzle_set, seed
        task, size, P = puzzle_set.task, puzzle_set.size, len(puzzle_set)
        identity = identity_transform(task, size)
        members = pool + 1 if augment else 1
        if P * members * identity.numel() > _POOL_BYTES_MAX:
            raise ValueError(
                f"an augmentation pool of {pool} for {P:,} puzzles would hold {P * members:,} "
                f"symmetries; subsample the training set (train --subsample 1000, as the "
                f"official recipe does) or set train.augment_pool=0 for fresh draws")
        gen = torch.Generator().manual_seed(seed)
        table = identity.to(torch.uint8).repeat(P, members, 1)  # (P, members, K); member 0: the original
        chunk = max(1, 200_000 // max(members - 1, 1))  # puzzles per draw: bounds the float memory
        for start in range(0, P if members > 1 else 0, chunk):
            n = min(chunk, P - start)
            drawn = draw_transforms(n * (members - 1), task, size, gen)
            table[start:start + n, 1:] = drawn.reshape(n, members - 1, -1).to(torch.uint8)
        self.table = table.to(puzzle_set.inputs.device)
        self._orders: dict[int, torch.Tensor] = {}

    def _order(self, epoch: int) -> torch.Tensor:
        """The random order of the puzzles in `epoch`, the same in every process and on resume."""
        if epoch not in self._orders:
            state = np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0]
            gen = torch.Generator().manual_seed(int(state))
            self._orders = {epoch: torch.randperm(len(self.puzzles), generator=gen)}  # keep one epoch
        return self._orders[epoch]

    def batch(self, index: int, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch number `index` (0, 1, ...): (inputs, labels), each (B, N*N), on the set's device.

        The member of each group comes from `generator`; the order of the groups only
        from the seed and `index`, so a resumed run draws the same puzzles.
        """
        P = len(self.puzzles)
        start = index * batch_size
        positions = torch.arange(start, start + batch_size)
        epochs, offsets = positions // P, positions % P
        pick = torch.empty(batch_size, dtype=torch.long)
        for e in epochs.unique().tolist():
            here = epochs == e
            pick[here] = self._order(e)[offsets[here]]
        member = torch.randint(self.table.shape[1], (batch_size,), generator=generator,
                               device=generator.device).cpu()
        device = self.puzzles.inputs.device
        pick_d, member_d = pick.to(device), member.to(device)
        x, y = self.puzzles.inputs[pick_d], self.puzzles.labels[pick_d]
        return apply_transforms(x, y, self.puzzles.task, self.puzzles.size, self.table[pick_d, member_d])


def batch_sampler(puzzle_set: PuzzleSet, batch_size: int, augment: bool, augment_pool: int,
                  seed: int) -> Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor, None]]:
    """`draw(index, generator) -> (inputs, labels, None)` for training batch number `index`; None:
    every puzzle has puzzle id 0 (ARC's batches, `trm_lib.data.arc_set.ArcBatches`, give ids).

    augment_pool 0: puzzles drawn with replacement, each with a fresh random symmetry
    (`sample_batch`). augment_pool N > 0: the official scheme of `AugmentPool`.
    """
    if augment_pool == 0:
        return lambda index, gen: (*sample_batch(puzzle_set, batch_size, gen, augment=augment), None)
    pool = AugmentPool(puzzle_set, augment_pool, seed, augment=augment)
    return lambda index, gen: (*pool.batch(index, batch_size, gen), None)
