"""One checker per lesson exercise: the learner's function against the reference on fresh inputs.

Each `check_*` runs `trm_lib.checks` machinery with the inputs that exercise needs, prints one
kind line (what passed, or what differs), and returns the function the notebook should use
next: the learner's when it matches, the reference otherwise. An exercise still raising
`NotImplementedError` prints "not attempted yet, using the reference".
"""
from __future__ import annotations

import torch

from trm_lib.checks import check_function, run_check  # noqa: F401  (used by the sections below)

# ---- lesson 01: the MLP block -------------------------------------------------------------

# ---- lesson 02: latent recursion ----------------------------------------------------------

# ---- lesson 03: deep supervision ----------------------------------------------------------

# ---- lesson 04: ACT halting ---------------------------------------------------------------

# ---- lesson 05: EMA and the training recipe -----------------------------------------------

# ---- lessons 06-08: end to end and beyond -------------------------------------------------
