"""Augmentation of token batches on any device, a seeded augmenting Dataset, and batches.

Sudoku: permute bands and rows within bands, stacks and columns within stacks, transpose
with probability 1/2 where boxes are square (4 x 4, 9 x 9; never 6 x 6), relabel digits.
Maze: one of the 8 symmetries of the square. The same transform is applied to the inputs
and labels of a puzzle, so a valid solution stays valid. Everything is index gathers, cheap
enough to run on every training step, on the GPU too.
"""
from __future__ import annotations

import numpy as np
import torch

from trm_lib.device import to_device
from trm_lib.maze import dihedral_perms
from trm_lib.puzzles import PuzzleSet
from trm_lib.sudoku import BOX_SHAPES


def _line_perms(batch: int, size: int, group: int, gen: torch.Generator) -> torch.Tensor:
    """(B, size) random line orders: blocks of `group` lines shuffled, lines within too."""
    blocks = size // group
    dev = gen.device
    block_order = torch.rand(batch, blocks, generator=gen, device=dev).argsort(1)  # (B, blocks)
    inner = torch.rand(batch, blocks, group, generator=gen, device=dev).argsort(2)  # (B, blocks, group)
    return (block_order[:, :, None] * group + inner).reshape(batch, size)


def sudoku_transforms(batch: int, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random Sudoku symmetries: cell index (B, N*N) and token map (B, N+2) on gen.device.

    Apply as `token_map.gather(1, tokens.gather(1, index))`; PAD 0 and blank 1 map to
    themselves, digit tokens 2..N+1 are permuted.
    """
    br, bc = BOX_SHAPES[size]
    dev = gen.device
    rows = _line_perms(batch, size, br, gen)
    cols = _line_perms(batch, size, bc, gen)
    index = rows[:, :, None] * size + cols[:, None, :]  # (B, N, N)
    if br == bc:
        flip = torch.rand(batch, generator=gen, device=dev) < 0.5
        index = torch.where(flip[:, None, None], index.transpose(1, 2), index)
    digits = torch.rand(batch, size, generator=gen, device=dev).argsort(1) + 2  # (B, N)
    fixed = torch.tensor([0, 1], device=dev).expand(batch, 2)
    return index.reshape(batch, size * size), torch.cat([fixed, digits], 1)


def augment_batch(inputs: torch.Tensor, labels: torch.Tensor, task: str, size: int,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A fresh random symmetry per puzzle. inputs, labels: (B, N*N) long tokens, any device.

    Random numbers come from `generator` (on its own device) and are moved to the data.
    """
    batch, seq = inputs.shape
    if seq != size * size or labels.shape != inputs.shape:
        raise ValueError(f"batch has shapes {tuple(inputs.shape)} and {tuple(labels.shape)}; "
                         f"expected (B, {size * size}) for {size}x{size} {task}")
    if task == "maze":
        perms = torch.as_tensor(dihedral_perms(size), device=generator.device)
        pick = torch.randint(8, (batch,), generator=generator, device=generator.device)
        index = to_device(perms[pick], inputs.device)
        return inputs.gather(1, index), labels.gather(1, index)
    if task != "sudoku":
        raise ValueError(f"unknown task {task!r}; expected 'sudoku' or 'maze'")
    index, token_map = sudoku_transforms(batch, size, generator)
    index, token_map = to_device(index, inputs.device), to_device(token_map, inputs.device)
    return (token_map.gather(1, inputs.gather(1, index)),
            token_map.gather(1, labels.gather(1, index)))


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


class PuzzleDataset(torch.utils.data.Dataset):
    """Item i = (inputs (N*N,), labels (N*N,)) of puzzle i, augmented by a transform that
    depends only on (seed, epoch, i): reproducible, and new each epoch after `set_epoch`."""

    def __init__(self, puzzle_set: PuzzleSet, augment: bool = True, seed: int = 0):
        self.puzzles, self.augment, self.seed, self.epoch = puzzle_set, augment, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.puzzles)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.puzzles.inputs[i], self.puzzles.labels[i]
        if not self.augment:
            return x, y
        state = np.random.SeedSequence([self.seed, self.epoch, i]).generate_state(1)[0]
        gen = torch.Generator().manual_seed(int(state))
        xa, ya = augment_batch(x[None].cpu(), y[None].cpu(), self.puzzles.task, self.puzzles.size, gen)
        return xa[0].to(x.device), ya[0].to(x.device)
