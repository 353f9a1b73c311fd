"""`eval --ensemble K` and `solve --ensemble K`: K copies of each puzzle, one answer picked
(trm_lib.ensemble). The options are shared by both commands."""
from __future__ import annotations

import argparse
import time

from trm_lib.cli.args import non_negative_number, positive_int, seed
from trm_lib.ensemble import COPIES, NOISE_ON, RULES

DEFAULT_SIGMA = 0.3


def add_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("ensembles (thinking wider)")
    g.add_argument("--ensemble", type=positive_int, default=None, metavar="K",
                   help="run K copies of each puzzle and pick one answer (ARC: K augmented copies voted)")
    g.add_argument("--copies-kind", choices=("auto",) + COPIES, default="auto",
                   help="augment: the task's symmetries; noise: Gaussian noise on the carried state; both "
                        "(default auto: augment, or both for a maze with more than its 8 symmetries)")
    g.add_argument("--rule", choices=RULES, default="vote",
                   help="vote: the answer most copies gave (ties by q_halt); q: the highest q_halt; "
                        "first-halt: the copy that halted first (default vote)")
    g.add_argument("--sigma", type=non_negative_number, default=DEFAULT_SIGMA,
                   help=f"noise scale for noisy copies (default {DEFAULT_SIGMA})")
    g.add_argument("--noise-on", choices=NOISE_ON, default="z", help="which state gets the noise (default z)")
    g.add_argument("--seed", type=seed, default=0, help="seed of the symmetries and the noise (default 0)")


def copies_kind(args: argparse.Namespace, task: str) -> str:
    if args.copies_kind != "auto":
        return args.copies_kind
    return "both" if task == "maze" and args.ensemble > 8 else "augment"


def describe(args: argparse.Namespace, task: str) -> str:
    kind = copies_kind(args, task)
    noise = f", sigma {args.sigma} on {args.noise_on}" if kind != "augment" else ""
    return f"{args.ensemble} copies ({kind}{noise}), {args.rule}"


def run_eval(args: argparse.Namespace, model, puzzles, n_steps: int | None, device):
    """Score the ensemble; print one trajectory beside K and the cost. Returns the picked answers."""
    from trm_lib.ensemble import run_copies, score, select

    kind = copies_kind(args, puzzles.task)
    start = time.time()
    traj = run_copies(model, puzzles, args.ensemble, n_steps=n_steps, copies=kind, sigma=args.sigma,
                      noise_on=args.noise_on, seed=args.seed, batch_size=args.batch_size, device=device,
                      progress=True)
    seconds = time.time() - start
    result = score(traj, puzzles, args.rule)
    print(f"one trajectory:  exact {result.single_exact:.2%}  valid {result.single_valid:.2%}")
    print(f"{describe(args, puzzles.task)}:  exact {result.exact:.2%}  valid {result.valid:.2%}  "
          f"({result.n_steps} supervision steps)")
    print(f"an oracle picking among the copies (the task's checker, not a method): {result.oracle:.2%}")
    print(f"cost: {result.k} x {result.n_steps} = {result.forward_passes} supervision steps a puzzle, "
          f"{result.k}x one trajectory's; {seconds:.0f} s here for {len(puzzles)} puzzles")
    return select(traj, args.rule)
