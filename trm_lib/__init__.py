"""trm_lib: the reference Tiny Recursive Model of the course, small and readable.

    from trm_lib import TRM, get_preset
    cfg = get_preset("sudoku6-cpu")
    model = TRM(cfg.model)
"""
from trm_lib.act import Carry, evaluate_steps, halting_decision, initial_carry, refill, train_step_forward
from trm_lib.config import PRESETS, Config, ModelConfig, TrainConfig, get_preset
from trm_lib.device import autocast, banner, maybe_compile, pick_device
from trm_lib.ema import EMA
from trm_lib.losses import exact_match, log_stablemax, stablemax_s, trm_loss
from trm_lib.model import TRM, StepOutput, count_parameters
from trm_lib.optim import AdamATan2, build_optimizer, set_learning_rate, warmup_factor

__version__ = "0.1.0"

__all__ = [
    "TRM", "StepOutput", "count_parameters",
    "Config", "ModelConfig", "TrainConfig", "PRESETS", "get_preset",
    "Carry", "initial_carry", "refill", "halting_decision", "train_step_forward", "evaluate_steps",
    "trm_loss", "exact_match", "log_stablemax", "stablemax_s",
    "EMA", "AdamATan2", "build_optimizer", "set_learning_rate", "warmup_factor",
    "pick_device", "banner", "autocast", "maybe_compile",
]
