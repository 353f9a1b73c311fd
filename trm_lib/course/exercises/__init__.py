"""One checker per lesson exercise: the learner's function against the reference on fresh inputs.

Each `check_*` runs `trm_lib.course.checks` machinery with the inputs that exercise needs, prints one
kind line (what passed, or what differs), and returns the function the notebook should use
next: the learner's when it matches, the reference otherwise. An exercise still raising
`NotImplementedError` prints "not attempted yet, using the reference".

One module per lesson; import every checker from here:

    from trm_lib.course.exercises import check_rms_norm

The checkers of the pieces lesson 09 reuses also keep a passing answer for it (see below).
"""
from trm_lib.course.exercises.lesson01 import check_rms_norm, check_swiglu, ReferenceMixerBlock, check_mixer_block
from trm_lib.course.exercises.lesson02 import reference_latent_recursion, reference_deep_recursion, check_latent_recursion, check_deep_recursion
from trm_lib.course.exercises.lesson03 import check_deep_supervision, reference_one_step_gradient, check_one_step_gradient
from trm_lib.course.exercises.lesson04 import reference_halt_loss, check_halt_loss, check_refill
from trm_lib.course.exercises.lesson05 import reference_stablemax_cross_entropy, check_stablemax_cross_entropy, reference_ema_update, check_ema_update
from trm_lib.course.exercises.lesson06 import check_changes_per_step, check_configure
from trm_lib.course.exercises.lesson07 import check_is_shortest_path
from trm_lib.course.exercises.lesson08 import reference_exact_per_step, check_exact_per_step, check_fit_probe, reference_wide_answer, check_wide_answer
from trm_lib.course.exercises.lesson09 import reference_embed_input, check_embed_input, check_my_trm, reference_train_step, check_train_step
from trm_lib.course.exercises.lesson10 import reference_undo_augmentation, check_undo_augmentation, check_rank_answers
from trm_lib import layers
from trm_lib.course.answers import bring_in_all, kept

# Lesson 09 builds a TRM from these answers, in this order (a later one may use an earlier one):
# a check of one that passes keeps the learner's answer for it (trm_lib.course.answers).
check_rms_norm = kept(check_rms_norm, "rms_norm", 1, layers.rms_norm)
check_swiglu = kept(check_swiglu, "SwiGLU", 1, layers.SwiGLU)
check_mixer_block = kept(check_mixer_block, "MixerBlock", 1, ReferenceMixerBlock)
check_latent_recursion = kept(check_latent_recursion, "latent_recursion", 2, reference_latent_recursion)
check_deep_recursion = kept(check_deep_recursion, "deep_recursion", 2, reference_deep_recursion)
check_halt_loss = kept(check_halt_loss, "halt_loss", 4, reference_halt_loss)
check_stablemax_cross_entropy = kept(check_stablemax_cross_entropy, "stablemax_cross_entropy", 5,
                                     reference_stablemax_cross_entropy)
check_ema_update = kept(check_ema_update, "ema_update", 5, reference_ema_update)


def check_earlier_answers(where=None):
    """Lesson 09's pieces: your kept answer where it loads and passes its check again, else the
    reference, one line each (trm_lib.course.answers)."""
    return bring_in_all(where)

__all__ = [
    "check_earlier_answers",
    "reference_wide_answer",
    "check_wide_answer",
    "reference_undo_augmentation",
    "check_undo_augmentation",
    "check_rank_answers",
    "check_rms_norm",
    "check_swiglu",
    "ReferenceMixerBlock",
    "check_mixer_block",
    "reference_latent_recursion",
    "reference_deep_recursion",
    "check_latent_recursion",
    "check_deep_recursion",
    "check_deep_supervision",
    "reference_one_step_gradient",
    "check_one_step_gradient",
    "reference_halt_loss",
    "check_halt_loss",
    "check_refill",
    "reference_stablemax_cross_entropy",
    "check_stablemax_cross_entropy",
    "reference_ema_update",
    "check_ema_update",
    "check_changes_per_step",
    "check_configure",
    "check_is_shortest_path",
    "reference_exact_per_step",
    "check_exact_per_step",
    "check_fit_probe",
    "reference_embed_input",
    "check_embed_input",
    "check_my_trm",
    "reference_train_step",
    "check_train_step",
]
