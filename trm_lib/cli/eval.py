"""`python -m trm_lib eval --checkpoint FILE --data FILE.csv [--steps K] [--predictions-out FILE.csv]`;
ARC checkpoints need no --data (trm_lib.cli.arc)."""
from __future__ import annotations

import argparse

from trm_lib.cli.args import path, positive_int, refuse_to_overwrite
from trm_lib.cli.ensemble import add_args as add_ensemble_args
from trm_lib.device import banner, pick_device


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("eval", help="exact, cell and valid accuracy of a checkpoint on a puzzle file")
    p.add_argument("--checkpoint", type=path, required=True, help="a last.pt written by `train`, or a shipped one")
    p.add_argument("--data", type=path, default=None, help="puzzle CSV (ours or the original format); an ARC checkpoint "
                   "needs none: it is scored on the build it was trained on")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="supervision steps (default: its train.eval_steps, else the n_sup it was trained "
                        "with; more is test-time scaling)")
    p.add_argument("--halt", action="store_true",
                   help="also report the answer at the first step where the model halts (q_halt > 0), "
                        "the mean steps that uses and the compute it saves")
    p.add_argument("--predictions-out", type=path, default=None, help="write the model's answers as a CSV")
    p.add_argument("--raw", action="store_true", help="use the raw weights instead of the EMA ones")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="puzzles per forward pass (default: 256)")
    add_ensemble_args(p)
    arc = p.add_argument_group("ARC checkpoints")
    arc.add_argument("--copies", type=positive_int, default=None,
                     help="augmented copies of each test input to vote over (default: its train.eval_copies, "
                          "else every copy of the build)")
    arc.add_argument("--split", choices=["test", "seen"], default="test",
                     help="test: the evaluation tasks' test inputs; seen: the training tasks' (trained on)")
    arc.add_argument("--submission-out", default=None, metavar="FILE.json",
                     help="write two attempts per test input in the ARC Prize submission format")
    return p


def run(args: argparse.Namespace) -> int:
    from trm_lib.checkpoint import load_model, weights_named
    from trm_lib.evaluate import evaluate
    from trm_lib.data.puzzles import load_puzzles

    if args.predictions_out:
        refuse_to_overwrite("--predictions-out", args.predictions_out, {"--data": args.data or "", "--checkpoint": args.checkpoint})
    device = pick_device(args.device)
    banner(device)
    model, cfg, state = load_model(args.checkpoint, use_ema=not args.raw, device=device)
    if cfg.task == "arc":
        from trm_lib.cli.arc import run_eval
        return run_eval(args, model, cfg, state, device)
    if not args.data:
        raise ValueError(f"give the puzzles to score: --data FILE.csv (a {cfg.task} {cfg.grid_size}x{cfg.grid_size} "
                         f"set, such as datasets/{cfg.dataset}/test.csv.gz)")
    puzzles = load_puzzles(args.data, progress=True)
    if (puzzles.task, puzzles.seq_len) != (cfg.task, cfg.model.seq_len):
        raise ValueError(f"{args.data} holds {puzzles.task} {puzzles.size}x{puzzles.size} puzzles, "
                         f"but the checkpoint's model ({cfg.name}) solves {cfg.task} "
                         f"{cfg.grid_size}x{cfg.grid_size}")
    steps = args.steps or cfg.train.eval_steps or None  # None: the model's n_sup
    if args.ensemble:
        from trm_lib.cli.ensemble import run_eval as run_ensemble

        print(f"checkpoint {args.checkpoint} ({cfg.name}, step {state['step']}, "
              f"{weights_named(state, not args.raw)}) on {args.data}:")
        picked = run_ensemble(args, model, puzzles, steps, device)
        _write_predictions(args, puzzles, picked)
        return 0
    result = evaluate(model, puzzles, n_steps=steps, batch_size=args.batch_size, device=device,
                      progress=True)
    print(f"checkpoint {args.checkpoint} ({cfg.name}, step {state['step']}, "
          f"{weights_named(state, not args.raw)}) on {args.data}:")
    print(f"exact {result.exact:.2%}  cell {result.cell:.2%}  valid {result.valid:.2%}  "
          f"({result.n_puzzles} puzzles, {result.n_steps} supervision steps)")
    per_step = "  ".join(f"{k + 1}:{a:.1%}" for k, a in enumerate(result.exact_per_step))
    print(f"exact after each step: {per_step}")
    if args.halt:
        print(halt_line(result))
    warning = label_warning(puzzles, result.predictions, args.data)
    if warning:
        print(warning)
    _write_predictions(args, puzzles, result.predictions)
    return 0


def _write_predictions(args: argparse.Namespace, puzzles, predictions) -> None:
    from trm_lib.data.puzzles import PuzzleSet, save_puzzles

    if args.predictions_out:
        answered = PuzzleSet(puzzles.task, puzzles.size, puzzles.inputs, predictions,
                             puzzles.ratings, puzzles.sources)
        save_puzzles(answered, args.predictions_out)
        print(f"predictions written to {args.predictions_out}")
        padded = int((predictions == 0).any(-1).sum())
        if padded:
            print(f"note: {padded} of the predictions hold cells the model left as padding, written as '?'; "
                  f"`data check` names those rows (they are no answer)")


def halt_line(result) -> str:
    """ACT at inference: each puzzle stops at its first step with q_halt > 0 (or at the last)."""
    saved = 1 - result.halt_step_mean / result.n_steps
    return (f"halting at inference: exact {result.exact_at_halt:.2%}  valid {result.valid_at_halt:.2%}  "
            f"after {result.halt_step_mean:.2f} steps on average of {result.n_steps} "
            f"({saved:.0%} of the supervision steps saved)")


def label_warning(puzzles, predictions, data: str) -> str | None:
    """A warning when some labels are not the only right answer, so exact accuracy undercounts:
    Sudoku whose valid answer differs from the label (several solutions), mazes whose labelled
    path is not a shortest one."""
    from trm_lib.evaluate import is_valid

    q, labels, preds = puzzles.inputs.numpy(), puzzles.labels.numpy(), predictions.numpy()
    if puzzles.task == "sudoku":
        differ = (preds != labels).any(1).nonzero()[0]
        bad = [i for i in differ if is_valid("sudoku", q[i], preds[i])]
        what = "Sudoku have several solutions (the model gave a valid one that is not the label)"
    else:
        bad = [i for i in range(len(q)) if not is_valid("maze", q[i], labels[i])]
        what = "mazes are labelled with a path that is not a shortest path"
    if not bad:
        return None
    return (f"warning: {len(bad)} of {len(q)} {what}; exact accuracy counts them as wrong, valid "
            f"accuracy as right. `python -m trm_lib data check {data}` names them")
