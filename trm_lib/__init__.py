"""trm_lib: the reference Tiny Recursive Model of the course, small and readable.

    from trm_lib import TRM, get_preset
    cfg = get_preset("sudoku6-cpu")
    model = TRM(cfg.model)
"""
import os
import sys

# torch's OpenMP threads spin while they wait for each other; when another program keeps a
# core busy, the spinning thread starves the working one. Passive waiting is the policy that is
# never far from the best, busy or quiet, so it is our default (the timings on a 2-core CPU are
# in the README, "Set up and open the course"). OpenMP reads it once, when torch loads: it
# takes effect only where trm_lib is imported first.
_chosen = os.environ.get("OMP_WAIT_POLICY")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # programs started from here inherit it too
OMP_WAIT_POLICY_AT_TORCH_LOAD = _chosen if "torch" in sys.modules else os.environ["OMP_WAIT_POLICY"]

from trm_lib.act import Carry, evaluate_steps, halting_decision, initial_carry, refill, train_step_forward
from trm_lib.config import Config, ModelConfig, TrainConfig
from trm_lib.device import autocast, banner, maybe_compile, pick_device
from trm_lib.ema import EMA
from trm_lib.losses import exact_match, log_stablemax, stablemax_s, trm_loss
from trm_lib.model import TRM, StepOutput, count_parameters
from trm_lib.variants import build_model
from trm_lib.optim import AdamATan2, build_optimizer, set_learning_rate, warmup_factor
from trm_lib.presets import PRESETS, get_preset

__version__ = "0.1.0"

__all__ = [
    "TRM", "StepOutput", "count_parameters", "build_model",
    "Config", "ModelConfig", "TrainConfig", "PRESETS", "get_preset",
    "Carry", "initial_carry", "refill", "halting_decision", "train_step_forward", "evaluate_steps",
    "trm_loss", "exact_match", "log_stablemax", "stablemax_s",
    "EMA", "AdamATan2", "build_optimizer", "set_learning_rate", "warmup_factor",
    "pick_device", "banner", "autocast", "maybe_compile",
]
