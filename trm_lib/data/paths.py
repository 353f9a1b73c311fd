"""Where the shipped files live: `datasets/` and `checkpoints` beside `trm_lib/`."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # trm_lib/data/paths.py -> the repository
DATASETS = REPO / "datasets"


def dataset_files(name: str) -> tuple[Path, Path]:
    """(train, test) CSV files of a shipped set, e.g. dataset_files("sudoku-6x6")."""
    folder = DATASETS / name
    files = (folder / "train.csv.gz", folder / "test.csv.gz")
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        known = sorted(p.name for p in DATASETS.iterdir() if p.is_dir()) if DATASETS.exists() else []
        raise FileNotFoundError(
            f"dataset {name!r} not found ({', '.join(missing)}); shipped sets: {', '.join(known) or 'none'}"
        )
    return files


def shown(path: str | Path) -> str:
    """A path as a learner should see it: relative to the working folder when that is shorter."""
    rel = os.path.relpath(path)
    return rel if len(rel) < len(str(path)) else str(path)
