"""`python -m trm_lib solve --checkpoint FILE --puzzle STRING`: the answer after every step."""
from __future__ import annotations

import argparse

import torch


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("solve", help="print the model's answer after every supervision step")
    p.add_argument("--checkpoint", required=True, help="a last.pt written by `train`, or a shipped one")
    p.add_argument("--puzzle", required=True,
                   help="row-major cells: Sudoku digits with '.' for blanks, or maze chars '# SG'")
    p.add_argument("--steps", type=int, default=None, help="supervision steps (default: as trained)")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    return p


def render(tokens: torch.Tensor, task: str, size: int, changed: torch.Tensor | None = None) -> str:
    """A grid as text. Sudoku cells that changed since the previous step are marked '*';
    a maze is drawn between '|' borders (its changes are counted, not marked)."""
    from trm_lib.puzzles import decode

    text = decode(tokens, task)
    rows = [text[r * size:(r + 1) * size] for r in range(size)]
    if task == "maze":
        return "\n".join(f"|{row}|" for row in rows)
    marks = ["*" if changed is not None and bool(changed[i]) else " " for i in range(size * size)]
    return "\n".join(" ".join(ch + marks[r * size + c] for c, ch in enumerate(row)) for r, row in enumerate(rows))


def parse_puzzle(text: str, task: str, size: int):
    """The puzzle string as tokens (1, N*N) for a model of `task` on N x N grids, or a ValueError
    that says what is wrong (length, a character, clashing Sudoku givens, a maze without S or G)."""
    from trm_lib.puzzles import encode

    cells = size * size
    if len(text) != cells:
        raise ValueError(f"the puzzle has {len(text)} characters; this checkpoint solves {task} "
                         f"{size}x{size} puzzles of {cells} cells, written row by row")
    tokens = encode([text], task, size)
    bad = [i for i, t in enumerate(tokens[0]) if t < 0]
    if bad:
        i = bad[0]
        allowed = f"'.' or 1-{size}" if task == "sudoku" else "'#', ' ', 'S' or 'G'"
        raise ValueError(f"character {text[i]!r} at row {i // size + 1}, column {i % size + 1} "
                         f"is not allowed in a {task}: use {allowed}")
    if task == "sudoku":
        from trm_lib.puzzles import to_grid
        from trm_lib.sudoku import clashes

        problems = clashes(to_grid(tokens[0], "sudoku"))
        if problems:
            raise ValueError("the givens clash: " + "; ".join(problems))
    else:
        for ch in "SG":
            if text.count(ch) != 1:
                raise ValueError(f"a maze needs exactly one {ch!r}; this one has {text.count(ch)}")
        if "o" in text:
            raise ValueError("the puzzle already marks a path ('o'); give the maze without it")
    return tokens


def run(args: argparse.Namespace) -> int:
    from trm_lib.act import evaluate_steps
    from trm_lib.checkpoint import load_model
    from trm_lib.device import autocast, pick_device
    from trm_lib.evaluate import is_valid

    device = pick_device(args.device)
    model, cfg, _ = load_model(args.checkpoint, device=device)
    tokens = parse_puzzle(args.puzzle, cfg.task, cfg.grid_size)
    x = torch.as_tensor(tokens, device=device)
    with autocast(device):
        outs = evaluate_steps(model, x, args.steps)
    task, size = cfg.task, cfg.grid_size
    print(f"puzzle ({task} {size}x{size}):\n{render(x[0], task, size)}\n")
    previous = None
    for k, out in enumerate(outs, start=1):
        pred = out.logits[0].argmax(-1)
        changed = None if previous is None else pred != previous
        n_changed = "" if changed is None else f", {int(changed.sum())} cells changed"
        halt = torch.sigmoid(out.q_halt[0]).item()
        print(f"step {k}: halting probability {halt:.2f}{n_changed}")
        print(render(pred, task, size, changed) + "\n")
        previous = pred
    ok = is_valid(task, x[0].cpu().numpy(), previous.cpu().numpy())
    print("the final answer is " + ("valid" if ok else "NOT valid") +
          (" (a correct Sudoku)" if task == "sudoku" else " (a valid shortest path)" if ok else ""))
    return 0
