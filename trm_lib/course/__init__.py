"""The course machinery: the exercise checkers, the learner notebooks' generator, the
one-pass baseline and the deep-supervision variants the lessons compare, the setup check."""
from __future__ import annotations

import os


def fast_mode() -> bool:
    """True when TRM_FAST is set (the notebook test run): lessons shrink data and steps."""
    return os.environ.get("TRM_FAST", "") not in ("", "0")
