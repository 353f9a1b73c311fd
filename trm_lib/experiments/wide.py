"""Accuracy against the number of copies: one K-copy run scored at every k <= K, every rule.

    python -m trm_lib.experiments.wide --checkpoint trm_lib/pretrained/sudoku9-cpu.pt \\
        --data datasets/sudoku-9x9-hard/test.csv.gz --first 200 --k 32 --copies augment --out hard.json
    python -m trm_lib.experiments.wide --report hard.json ... --plot ensembles.png

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


def report(paths: list[str], png: str | None = None) -> str:
    """A markdown table (one row per file and rule: accuracy at every k) of `main`'s JSON files,
    and, with `png`, one plot of accuracy against supervision steps a puzzle (the vote)."""
    runs = [json.load(open(p)) for p in paths]
    ks = sorted({r["k"] for run in runs for r in run["rows"]})
    lines = ["| model, file (puzzles) | copies | steps | rule | " + " | ".join(f"K={k}" for k in ks) + " | oracle at max K |",
             "|---|---|---|---|" + "---:|" * (len(ks) + 1)]
    for run in runs:
        m = run["meta"]
        kind = m["copies"] + (f", sigma {m['sigma']} on {m['noise_on']}" if m["copies"] != "augment" else "")
        name = f"{m['checkpoint'].split('/')[-1].removesuffix('.pt')}, {_short(m['data'])} ({m['puzzles']})"
        for rule in RULES:
            acc = {r["k"]: r["valid"] for r in run["rows"] if r["rule"] == rule}
            top = max(r["k"] for r in run["rows"])
            oracle = next(r["oracle"] for r in run["rows"] if r["k"] == top and r["rule"] == rule)
            cells = " | ".join(f"{100 * acc[k]:.1f}" if k in acc else "" for k in ks)
            lines.append(f"| {name} | {kind} | {m['steps']} | {rule} | {cells} | {100 * oracle:.1f} |")
    if png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(10, 4.6))
        colours = plt.get_cmap("tab20").colors
        for i, run in enumerate(runs):
            m = run["meta"]
            rows = [r for r in run["rows"] if r["rule"] == "vote"]
            kind = m["copies"] + (f" (sigma {m['sigma']})" if m["copies"] != "augment" else "")
            label = (f"{m['checkpoint'].split('/')[-1].removesuffix('.pt')}, {_short(m['data'])}, {kind}, "
                     f"{rows[0]['steps_per_puzzle']} steps")
            ax.plot([r["steps_per_puzzle"] for r in rows], [100 * r["valid"] for r in rows],
                    "-o" if m["copies"] == "augment" else "--s", ms=3, color=colours[i % len(colours)], label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("supervision steps a puzzle (K copies x steps)")
        ax.set_ylabel("solved (%), majority vote")
        ax.set_title("Thinking wider: accuracy against compute")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        fig.savefig(png, dpi=110)
    return "\n".join(lines)


def _short(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[-2:]).removesuffix(".csv.gz")


def main(argv: list[str] | None = None) -> int:
    from trm_lib.checkpoint import load_model
    from trm_lib.data.puzzles import load_puzzles

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--report", nargs="+", default=None, metavar="JSON",
                   help="print the table of these runs (and --plot PNG) instead of running")
    p.add_argument("--plot", default=None, metavar="PNG")
    p.add_argument("--checkpoint")
    p.add_argument("--data")
    p.add_argument("--first", type=int, default=None, help="score the first N puzzles of the file")
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--copies", choices=COPIES, default="augment")
    p.add_argument("--sigma", type=float, default=0.0)
    p.add_argument("--noise-on", default="z")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="a JSON file for the rows")
    args = p.parse_args(argv)
    if args.report:
        print(report(args.report, args.plot))
        return 0
    if not (args.checkpoint and args.data and args.out):
        p.error("give --checkpoint, --data and --out (or --report JSON ...)")
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
