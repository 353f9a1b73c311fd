"""`python -m trm_lib doctor`: check the setup and estimate the lessons' times on this machine."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("doctor", help="check versions, device and threads; time this machine (about 5 s) "
                                      "and estimate each lesson's time")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best one present)")
    return p


def run(args: argparse.Namespace) -> int:
    from trm_lib.device import pick_device
    from trm_lib.course.doctor import report

    lines, ok = report(pick_device(args.device))
    print("\n".join(lines))
    print("\nready for the course" if ok else "\nfix the lines marked 'fix', then run this again")
    return 0 if ok else 1
