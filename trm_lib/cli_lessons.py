"""`python -m trm_lib lessons`: regenerate notebooks/ from solutions/ (exercises stubbed)."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return sub.add_parser("lessons", help="regenerate the learner's notebooks from solutions/")


def run(args: argparse.Namespace) -> int:
    from trm_lib.lessons import generate
    from trm_lib.paths import shown

    written = generate()
    for path in written:
        print(f"wrote {shown(path)}")
    print(f"{len(written)} lesson(s); run them (e.g. with nbval or JupyterLab) to refresh their outputs")
    return 0
