"""`python -m trm_lib ablate --preset NAME --steps S [--seeds 0 1 2] [--variants ...] [--json FILE] [key=value ...]`"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from trm_lib.cli.args import path, positive_int, seed
from trm_lib.experiments.ablations import VARIANTS


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("ablate", help="train the paper's ablations of a preset and print them next to the paper's")
    p.add_argument("--preset", default="sudoku6-cpu", help="the base config (default: sudoku6-cpu)")
    p.add_argument("--steps", type=positive_int, required=True, help="optimizer steps per variant and seed")
    p.add_argument("--seeds", type=seed, nargs="+", default=[0], help="seeds; every variant uses the same ones")
    p.add_argument("--variants", nargs="+", default=None, metavar="NAME",
                   help=f"a subset, quoted: {', '.join(repr(v) for v in VARIANTS)} (default: all)")
    p.add_argument("--eval-size", type=positive_int, default=1000, help="test puzzles to evaluate on (default: 1000)")
    p.add_argument("--scaling", type=positive_int, default=4, help="also evaluate with this many times n_sup steps")
    p.add_argument("--json", type=path, default=None, help="write the rows to this JSON file as well")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="changes to the base, e.g. train.lr=1e-3")
    return p


def run(args: argparse.Namespace) -> int:
    from trm_lib.experiments.ablations import format_table, run_ablations
    from trm_lib.presets import get_preset
    from trm_lib.device import banner, pick_device
    from trm_lib.data.paths import dataset_files
    from trm_lib.data.puzzles import load_puzzles

    base = get_preset(args.preset).with_overrides(args.overrides)
    device = pick_device(args.device)
    banner(device)
    train_path, test_path = dataset_files(base.dataset)
    train_set = load_puzzles(train_path)
    test_set = load_puzzles(test_path).subset(slice(0, args.eval_size))
    print(f"{base.name}: {args.steps} steps per variant, seeds {args.seeds}, {len(test_set)} test puzzles")
    rows = run_ablations(base, train_set, test_set, args.steps, args.variants, tuple(args.seeds),
                         args.scaling, device)
    print()
    print(format_table(rows, args.scaling))
    if args.json:
        record = {"preset": base.name, "steps": args.steps, "overrides": args.overrides,
                  "eval_size": len(test_set), "scaling": args.scaling, "rows": [asdict(r) for r in rows]}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=1) + "\n")
        print(f"rows written to {args.json}")
    return 0
