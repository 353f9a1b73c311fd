"""`python -m trm_lib solve --checkpoint FILE --puzzle STRING`: the answer after every step."""
from __future__ import annotations

import argparse

import torch

from trm_lib.cli.args import positive_int
from trm_lib.cli.ensemble import add_args as add_ensemble_args
from trm_lib.data.text import parse_puzzle


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("solve", help="print the model's answer after every supervision step")
    p.add_argument("--checkpoint", required=True, help="a last.pt written by `train`, or a shipped one")
    p.add_argument("--puzzle", default=None,
                   help="row-major cells: Sudoku digits with '.' for blanks, or maze chars '# SG'")
    p.add_argument("--task", default=None, help="ARC checkpoints: a task id of its build, e.g. 66e6c45b")
    p.add_argument("--copies", type=positive_int, default=None,
                   help="ARC: augmented copies to vote over (default: as the checkpoint evaluates)")
    p.add_argument("--steps", type=positive_int, default=None, help="supervision steps (default: as trained)")
    p.add_argument("--halt", action="store_true",
                   help="stop at the first step where the model halts (halting probability above 0.5) "
                        "and judge that answer")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    add_ensemble_args(p)
    return p


def render(tokens: torch.Tensor, task: str, size: int, changed: torch.Tensor | None = None) -> str:
    """A grid as text. Sudoku cells that changed since the previous step are marked '*';
    a maze is drawn between '|' borders (its changes are counted, not marked)."""
    from trm_lib.data.puzzles import decode

    text = decode(tokens, task)
    rows = [text[r * size:(r + 1) * size] for r in range(size)]
    if task == "maze":
        return "\n".join(f"|{row}|" for row in rows)
    marks = ["*" if changed is not None and bool(changed[i]) else " " for i in range(size * size)]
    return "\n".join(" ".join(ch + marks[r * size + c] for c, ch in enumerate(row)) for r, row in enumerate(rows))


def run(args: argparse.Namespace) -> int:
    from trm_lib.act import iter_steps
    from trm_lib.checkpoint import load_model
    from trm_lib.device import autocast, pick_device
    from trm_lib.evaluate import is_valid
    from trm_lib.viz.watch import solution_of

    device = pick_device(args.device)
    model, cfg, _ = load_model(args.checkpoint, device=device)
    if cfg.task == "arc":
        if not args.task:
            raise ValueError("an ARC model solves a task of its build: give --task ID")
        from trm_lib.cli.arc import run_solve
        return run_solve(args, model, cfg, device)
    if not args.puzzle:
        raise ValueError(f"give the puzzle: --puzzle with a {cfg.task} {cfg.grid_size}x{cfg.grid_size} grid")
    tokens = parse_puzzle(args.puzzle, cfg.task, cfg.grid_size)
    solution_of(cfg.task, tokens[0])  # a puzzle without a solution is refused before the model runs
    x = torch.as_tensor(tokens, device=device)
    n_steps = args.steps or cfg.model.n_sup
    if args.ensemble:
        return _solve_wide(args, model, cfg, torch.as_tensor(tokens), n_steps, device)
    task, size = cfg.task, cfg.grid_size
    print(f"puzzle ({task} {size}x{size}):\n{render(x[0], task, size)}\n")
    previous, halted_at = None, None
    with autocast(device):  # one step at a time: --halt runs no step after the halt
        for k, out in enumerate(iter_steps(model, x, n_steps), start=1):
            pred = out.logits[0].argmax(-1)
            halt = torch.sigmoid(out.q_halt[0]).item()
            _print_step(k, pred, previous, halt, task, size)
            previous = pred
            if halted_at is None and halt > 0.5:
                halted_at = k
                if args.halt:
                    print(f"  the model halts here, at step {k} (halting probability above 0.5): "
                          f"{k} of {n_steps} steps run")
                    break
                print(f"  the model halts here, at step {k} (halting probability above 0.5); "
                      f"the steps after it only show whether more thinking would change the answer")
    if halted_at is None:
        print(f"did not halt within {n_steps} steps (halting probability stayed at or below 0.5)")
    elif not args.halt:
        print(f"halted at step {halted_at} of {n_steps}")
    ok = is_valid(task, x[0].cpu().numpy(), previous.cpu().numpy())
    which = f"the answer at the halt (step {halted_at})" if args.halt and halted_at else "the final answer"
    print(f"{which} is " + ("valid" if ok else "NOT valid") +
          ("" if not ok else " (a correct Sudoku)" if task == "sudoku" else " (a valid shortest path)"))
    return 0


def _print_step(k: int, pred: torch.Tensor, previous: torch.Tensor | None, halt: float, task: str,
                size: int) -> None:
    """One step's line, and its grid unless no cell changed since the previous step."""
    changed = None if previous is None else pred != previous
    line = f"step {k}: halting probability {halt:.2f}"
    if changed is not None and not changed.any():
        print(line + ", no cell changed")  # the same grid again: not worth printing
        return
    n = int(changed.sum()) if changed is not None else None
    print(line + ("" if n is None else f", {n} cell{'' if n == 1 else 's'} changed"))
    print(render(pred, task, size, changed) + "\n")


def _solve_wide(args: argparse.Namespace, model, cfg, tokens: torch.Tensor, n_steps: int, device) -> int:
    """K copies of the typed puzzle: how many answers they reached, the picked one, judged."""
    from trm_lib.cli.ensemble import copies_kind, describe
    from trm_lib.ensemble import wide_on_one

    task, size = cfg.task, cfg.grid_size
    print(f"puzzle ({task} {size}x{size}):\n{render(tokens[0], task, size)}\n")
    r = wide_on_one(model, task, size, tokens[0], args.ensemble, args.rule, n_steps=n_steps,
                    copies=copies_kind(args, task), sigma=args.sigma, noise_on=args.noise_on, seed=args.seed,
                    device=device)
    print(f"{describe(args, task)}, {n_steps} steps each: {r.distinct} different answer"
          f"{'' if r.distinct == 1 else 's'}; {r.right_copies} of {r.k} copies are right "
          f"(the task's checker says so; it does not pick)")
    print(f"the picked answer ({r.agree} of {r.k} copies gave it):\n{render(r.picked, task, size)}")
    print("it is " + ("valid" if r.picked_valid else "NOT valid") +
          (" (a correct Sudoku)" if task == "sudoku" and r.picked_valid else
           " (a valid shortest path)" if r.picked_valid else ""))
    return 0
