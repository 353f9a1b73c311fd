"""`python -m trm_lib lessons`: regenerate notebooks/ from solutions/ (exercises stubbed).

For whoever edits the solved lessons (course authors, instructors adapting the course); a
learner never needs it. It keeps any learner notebook that was edited since it was generated,
unless `--force`, which saves the edited copy as NAME.ipynb.bak first.
"""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("lessons", help="(course authors) regenerate the learner's notebooks from solutions/; "
                                       "keeps edited ones")
    p.add_argument("--force", action="store_true",
                   help="overwrite edited notebooks too, after saving each as NAME.ipynb.bak")
    return p


def run(args: argparse.Namespace) -> int:
    from trm_lib.course.lessons import generate
    from trm_lib.data.paths import shown

    done = generate(force=args.force)
    for path in done.written:
        print(f"wrote {shown(path)}")
    for path in done.backups:
        print(f"saved the edited copy as {shown(path)} (rename it to .ipynb to open it)")
    for path in done.kept:
        why = done.unreadable.get(path) or "it was edited since it was generated (a learner's work?)"
        print(f"kept {shown(path)}: {why}; --force overwrites it after saving it as .ipynb.bak")
    print(f"{len(done.written)} lesson(s) written; run them (e.g. with nbval or JupyterLab) to refresh their outputs")
    return 1 if done.kept else 0
