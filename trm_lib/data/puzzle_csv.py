"""Reading puzzle CSV files row by row, with every problem as "FILE, line N: what is wrong".

Streams: a file is never read whole, a line longer than MAX_LINE stops the read, so a
garbage or huge file fails (or is checked) in bounded memory. Accepted: UTF-8 with or
without a byte-order mark, gzip when the name ends in `.gz`.
"""
from __future__ import annotations

import csv
import gzip
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

HEADER = ["source", "question", "answer", "rating"]
MAX_LINE = 1 << 20  # bytes; the largest real row (a 30x30 maze) is under 2 KB
_GZIP_MAGIC, _ZIP_MAGIC = b"\x1f\x8b", b"PK\x03\x04"


def _sniff(path: Path) -> None:
    """Refuse files that are plainly not a puzzle CSV before reading them."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(_ZIP_MAGIC):
        raise ValueError(f"{path} is a zip archive (a trm_lib checkpoint?), not a puzzle CSV; "
                         f"checkpoints go to --checkpoint")
    if path.suffix == ".gz" and not head.startswith(_GZIP_MAGIC):
        raise ValueError(f"{path} is named .gz but is not gzip data; rename it without .gz, or gzip it")
    if path.suffix != ".gz" and head.startswith(_GZIP_MAGIC):
        raise ValueError(f"{path} holds gzip data; name it .gz (e.g. {path.name}.gz)")


def _lines(f: BinaryIO, path: Path, counter: list[int]) -> Iterator[str]:
    """Decoded lines; counter[0] is the number of the line last read."""
    while True:
        raw = f.readline(MAX_LINE + 1)
        if not raw:
            return
        counter[0] += 1
        if len(raw) > MAX_LINE:
            raise ValueError(f"{path}, line {counter[0]}: longer than {MAX_LINE // 2**20} MiB; "
                             f"this is not a puzzle CSV")
        try:
            yield raw.decode("utf-8-sig" if counter[0] == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}, line {counter[0]}: not UTF-8 text (byte {raw[err.start]:#04x} at "
                             f"column {err.start + 1}); save the file as UTF-8") from None


def iter_rows(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, [source, question, answer, rating]) for every row after the header."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a puzzle CSV file")
    _sniff(path)
    counter = [0]
    f = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    try:
        with f:
            reader = csv.reader(_lines(f, path, counter))
            header = next(reader, None)
            if header != HEADER:
                raise ValueError(f"{path}, line 1: header is {header}, expected {','.join(HEADER)}")
            for row in reader:
                if len(row) != 4:
                    raise ValueError(f"{path}, line {reader.line_num}: {len(row)} fields, expected 4")
                yield reader.line_num, row
    except csv.Error as err:
        raise ValueError(f"{path}, line {counter[0]}: {err}; this is not a puzzle CSV row") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise ValueError(f"{path}, line {counter[0] + 1}: the gzip data is damaged or cut short ({err}); "
                         f"the file is truncated or corrupt, copy or generate it again") from None


def iter_chunks(path: str | Path, size: int = 20_000) -> Iterator[list[tuple[int, list[str]]]]:
    """Rows in lists of at most `size`; an empty file (header only) is an error."""
    chunk, any_rows = [], False
    for row in iter_rows(path):
        chunk.append(row)
        any_rows = True
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
    if not any_rows:
        raise ValueError(f"{path}: no puzzles after the header")
