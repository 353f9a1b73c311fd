"""Accuracy against the number of copies: one K-copy run scored at every k <= K, every rule.

    python -m trm_lib.experiments.wide --checkpoint trm_lib/pretrained/sudoku9-cpu.pt \\
        --data datasets/sudoku-9x9-hard/test.csv.gz --first 200 --k 32 --copies augment --out hard.json

Copy 0 is the one-trajectory run and the first k copies of a K-copy run are a k-copy
ensemble, so one run gives the whole curve. The rows are what the model card's table holds.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from trm_lib.ensemble import COPIES, RULES, Trajectories, run_copies, score


def curve(traj: Trajectories, puzzles, ks: list[int] | None = None, rules=RULES) -> list[dict]:
    """Rows {k, rule, exact, valid, single_exact, single_valid, oracle, steps_per_puzzle}."""
    ks = ks or [k for k in (1, 2, 4, 8, 16, 32, 64, 128) if k <= traj.k]
    cache: dict = {}
    rows = []
    for k in ks:
        sub = traj.subset(k)
        for rule in rules:
            s = score(sub, puzzles, rule, cache)
            rows.append(dict(k=k, rule=rule, exact=s.exact, valid=s.valid, single_exact=s.single_exact,
                             single_valid=s.single_valid, oracle=s.oracle, steps_per_puzzle=s.forward_passes))
    return rows


def main(argv: list[str] | None = None) -> int:
    from trm_lib.checkpoint import load_model
    from trm_lib.data.puzzles import load_puzzles

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--first", type=int, default=None, help="score the first N puzzles of the file")
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--copies", choices=COPIES, default="augment")
    p.add_argument("--sigma", type=float, default=0.0)
    p.add_argument("--noise-on", default="z")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="a JSON file for the rows")
    args = p.parse_args(argv)
    model, cfg, _ = load_model(args.checkpoint, device=torch.device("cpu"))
    puzzles = load_puzzles(args.data)
    if args.first:
        puzzles = puzzles.subset(slice(0, args.first))
    steps = args.steps or cfg.train.eval_steps or cfg.model.n_sup
    start = time.time()
    traj = run_copies(model, puzzles, args.k, n_steps=steps, copies=args.copies, sigma=args.sigma,
                      noise_on=args.noise_on, seed=args.seed, progress=True)
    seconds = time.time() - start
    rows = curve(traj, puzzles)
    meta = dict(checkpoint=args.checkpoint, data=args.data, puzzles=len(puzzles), k=args.k, copies=args.copies,
                sigma=args.sigma, noise_on=args.noise_on, steps=steps, seed=args.seed, seconds=round(seconds, 1),
                threads=torch.get_num_threads())
    with open(args.out, "w") as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=1)
    for r in rows:
        print(f"k={r['k']:3d} {r['rule']:10s} exact {r['exact']:.1%} valid {r['valid']:.1%} "
              f"(one {r['single_valid']:.1%}, oracle {r['oracle']:.1%})")
    print(f"{seconds:.0f} s for {len(puzzles)} puzzles x {args.k} copies x {steps} steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
