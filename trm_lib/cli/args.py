"""Argument types shared by the commands: a bad number is refused before any work starts."""
from __future__ import annotations

import argparse
import math
from pathlib import Path


def _parse(text: str, kind: type) -> int | float:
    """`text` as an int or a float, or the argument error that says it is not one."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None


def positive_int(text: str) -> int:
    """An integer >= 1 (a count of puzzles, steps, repeats)."""
    value = _parse(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_minutes(text: str) -> float:
    """A finite number of minutes > 0."""
    value = _parse(text, float)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of minutes above 0, got {text}")
    return value


def non_negative_number(text: str) -> float:
    """A finite number >= 0 (a noise scale)."""
    value = _parse(text, float)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def seed(text: str) -> int:
    """A random seed: an integer from 0 to 2^63 - 1 (what every generator the library uses takes)."""
    value = _parse(text, int)
    if not 0 <= value < 2 ** 63:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2^63-1, got {value}")
    return value


def path(text: str) -> str:
    """A file or folder name that is not empty (an empty one would quietly mean the default)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; name a file (or leave the option out for the default)")
    return text


def refuse_to_overwrite(out_flag: str, out: str, inputs: dict[str, str | list[str]]) -> None:
    """Refuse an output file that is one of the command's inputs ({flag: path or paths})."""
    target = Path(out).resolve()
    for flag, paths in inputs.items():
        for given in [paths] if isinstance(paths, str) else paths:
            if given and Path(given).resolve() == target:
                raise ValueError(f"{out_flag} {out} is the {flag} file; writing there would overwrite it: "
                                 f"choose another file name")
