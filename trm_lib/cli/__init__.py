"""The command line: `python -m trm_lib COMMAND ...`.

Each command lives in its own module with two functions, `add_parser(subparsers)` and
`run(args) -> int`; this file only lists them, so adding a command is one line here.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# command name -> module that implements it
COMMANDS = {
    "info": "trm_lib.cli.info",
    "data": "trm_lib.cli.data",
    "train": "trm_lib.cli.train",
    "eval": "trm_lib.cli.eval",
    "solve": "trm_lib.cli.solve",
    "bench": "trm_lib.cli.bench",
    "ablate": "trm_lib.cli.ablate",
    "lessons": "trm_lib.cli.lessons",
    "doctor": "trm_lib.cli.doctor",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trm_lib",
        description="Tiny Recursive Models: the course's reference implementation.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (ValueError, OSError) as err:
        # Bad input is the user's to fix: one clear line, no traceback.
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        stopped = getattr(err, "signal_name", None)  # trm_lib.train_state: TrainingInterrupted, StoppedAtOnce
        if stopped and hasattr(err, "saved"):
            print(f"stopped at once by a second {stopped}: {err.saved}; run the same command to resume",
                  file=sys.stderr)
            return err.exit_code
        if stopped:
            print(f"stopped by {stopped} at step {err.step}; the checkpoint {err.checkpoint} is saved: "
                  f"run the same command to resume", file=sys.stderr)
            return err.exit_code
        print("\ninterrupted" + (" before training started: nothing new was saved" if args.command == "train"
                                 else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
