"""A training run's folder: one run at a time (a lock), its metrics log, starting afresh.

    OUT/.lock          held (flock) by the process training into OUT; the kernel drops it when
                       that process dies, so a killed run never leaves the folder stuck
    OUT/metrics.jsonl  one JSON record per line, always valid JSON (no NaN or Infinity)
    OUT/last.pt        the checkpoint (written to a per-process temporary name, then renamed)
"""
from __future__ import annotations

import json
import math
import os
import socket
import sys
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows without WSL: no advisory locks, runs are not guarded
    fcntl = None

LOCK_NAME = ".lock"


class RunFolderLock:
    """Exclusive use of a run folder while training into it; a busy folder is a clear error."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._file = None

    def __enter__(self) -> "RunFolderLock":
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"run folder {self.folder} is a file; give --out a folder")
        path = self.folder / LOCK_NAME
        try:  # the lock file is the first thing written: an unwritable folder stops here, before training
            self.folder.mkdir(parents=True, exist_ok=True)
            f = open(path, "a+")
        except OSError as err:
            raise ValueError(f"cannot write into the run folder {self.folder} ({err.strerror}); "
                             f"choose another --out") from None
        if fcntl is not None:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                f.close()
                raise ValueError(f"run folder {self.folder} is in use by {holder}; wait for that run "
                                 f"to finish, stop it, or train into another --out folder") from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        self._file = f
        remove_stale_temporaries(self.folder)
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the flock; the file itself may stay
            self._file = None


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Temporary checkpoint files a killed run left behind (only called under the lock)."""
    stale = sorted(folder.glob("*.pt.tmp")) + sorted(folder.glob("*.pt.*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def move_aside(folder: Path, names: tuple[str, ...] = ("metrics.jsonl", "last.pt")) -> list[tuple[Path, Path]]:
    """`--fresh`: keep an earlier run's files under new names instead of mixing or losing them.
    metrics.jsonl -> metrics.before-fresh-K.jsonl, last.pt -> last.before-fresh-K.pt."""
    present = [folder / n for n in names if (folder / n).exists()]
    if not present:
        return []
    k = 1
    while any((folder / _aside(n, k)).exists() for n in names):
        k += 1
    moved = [(p, folder / _aside(p.name, k)) for p in present]
    for old, new in moved:
        os.replace(old, new)
    return moved


def _aside(name: str, k: int) -> str:
    stem, dot, suffix = name.partition(".")
    return f"{stem}.before-fresh-{k}{dot}{suffix}"


def finite(obj: Any) -> Any:
    """NaN and infinities become None, so a record stays valid JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def append_record(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(finite(record), allow_nan=False) + "\n")


def read_records(path: Path) -> list[dict]:
    """Every record of a metrics log; none when there is no log yet.

    A torn last line (the process died while writing it) is dropped with a warning; a bad
    line elsewhere is an error naming the file and the line."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    records = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if type(record["step"]) is not int:  # a record without a step is not a metrics record
                raise TypeError
        except (ValueError, KeyError, TypeError):
            if i == len(lines):
                print(f"warning: {path}, line {i}: a torn last record (the run stopped while writing "
                      f"it) is dropped", file=sys.stderr)
                continue
            raise ValueError(f"{path}, line {i}: not a metrics record (JSON with a \"step\"); fix or "
                             f"remove the line, or start over with --fresh") from None
        records.append(record)
    return records


def read_history(path: Path, up_to_step: int) -> list[dict]:
    """Records of an earlier run up to the checkpoint's step (later ones were not saved); the
    log is rewritten to hold just those, so a resumed run appends to a consistent history."""
    records = read_records(path)
    kept = [r for r in records if r["step"] <= up_to_step]
    if path.exists() and len(kept) != sum(1 for line in path.read_text().splitlines() if line.strip()):
        path.write_text("".join(json.dumps(finite(r), allow_nan=False) + "\n" for r in kept))
    return kept
