"""The puzzles: Sudoku and mazes, their files, their augmentations, and the generators.

Imports only the core (for `to_device`), never `viz`, `course`, `experiments` or `cli`
(`tests/test_layout.py` holds this).
"""
