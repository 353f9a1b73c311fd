"""`python -m trm_lib eval --checkpoint FILE --data FILE.csv [--steps K] [--predictions-out FILE.csv]`"""
from __future__ import annotations

import argparse

from trm_lib.device import banner, pick_device


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("eval", help="exact, cell and valid accuracy of a checkpoint on a puzzle file")
    p.add_argument("--checkpoint", required=True, help="a last.pt written by `train`, or a shipped one")
    p.add_argument("--data", required=True, help="puzzle CSV (ours or the original format)")
    p.add_argument("--steps", type=int, default=None,
                   help="supervision steps (default: the n_sup it was trained with; more is test-time scaling)")
    p.add_argument("--predictions-out", default=None, help="write the model's answers as a CSV")
    p.add_argument("--raw", action="store_true", help="use the raw weights instead of the EMA ones")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    p.add_argument("--batch-size", type=int, default=256, help="puzzles per forward pass (default: 256)")
    return p


def run(args: argparse.Namespace) -> int:
    from trm_lib.checkpoint import load_model
    from trm_lib.evaluate import evaluate
    from trm_lib.puzzles import PuzzleSet, load_puzzles, save_puzzles

    device = pick_device(args.device)
    banner(device)
    model, cfg, state = load_model(args.checkpoint, use_ema=not args.raw, device=device)
    puzzles = load_puzzles(args.data, progress=True)
    if (puzzles.task, puzzles.seq_len) != (cfg.task, cfg.model.seq_len):
        raise ValueError(f"{args.data} holds {puzzles.task} {puzzles.size}x{puzzles.size} puzzles, "
                         f"but the checkpoint's model ({cfg.name}) solves {cfg.task} "
                         f"{cfg.grid_size}x{cfg.grid_size}")
    result = evaluate(model, puzzles, n_steps=args.steps, batch_size=args.batch_size, device=device,
                      progress=True)
    print(f"checkpoint {args.checkpoint} ({cfg.name}, step {state['step']}, "
          f"{'raw' if args.raw else 'EMA'} weights) on {args.data}:")
    print(f"exact {result.exact:.2%}  cell {result.cell:.2%}  valid {result.valid:.2%}  "
          f"({result.n_puzzles} puzzles, {result.n_steps} supervision steps)")
    per_step = "  ".join(f"{k + 1}:{a:.1%}" for k, a in enumerate(result.exact_per_step))
    print(f"exact after each step: {per_step}")
    if args.predictions_out:
        answered = PuzzleSet(puzzles.task, puzzles.size, puzzles.inputs, result.predictions,
                             puzzles.ratings, puzzles.sources)
        save_puzzles(answered, args.predictions_out)
        print(f"predictions written to {args.predictions_out}")
    return 0
