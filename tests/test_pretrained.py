"""The shipped models load with weights_only and really solve the shipped test puzzles."""
import pytest

from trm_lib.evaluate import evaluate
from trm_lib.data.paths import dataset_files
from trm_lib.pretrained import available, load_pretrained, pretrained_metrics
from trm_lib.data.puzzles import load_puzzles


# name, the floor its card's accuracy is held to, and whether the answers must stay found over
# 2 x n_sup steps (maze9-act-cpu is shipped to show that they do not: lesson 07)
SHIPPED = [("sudoku4-cpu", 0.95, True), ("sudoku6-cpu", 0.95, True), ("sudoku9-cpu", 0.9, True),
           ("maze-small-cpu", 0.9, True), ("maze9-act-cpu", 0.9, False)]


@pytest.mark.parametrize("name, floor, keeps_answers", SHIPPED)
def test_shipped_model_solves_the_test_set_as_its_card_says_and_keeps_its_answers(name, floor, keeps_answers):
    model, cfg = load_pretrained(name)
    n = cfg.model.n_sup
    test = load_puzzles(dataset_files(cfg.dataset)[1]).subset(slice(0, 100))
    result = evaluate(model, test, n_steps=2 * n, valid_per_step=True)
    assert result.exact_per_step[n - 1] >= floor and result.valid_per_step[n - 1] >= floor
    assert pretrained_metrics(name)["test_valid"] >= floor
    exact = result.exact_per_step
    best = [max(exact[:k + 1]) for k in range(len(exact))]
    kept = all(b - e <= 1 / 100 + 1e-9 for b, e in zip(best, exact))  # at most one puzzle of noise
    assert kept == keeps_answers, exact


def test_asking_for_a_model_that_is_not_shipped_lists_the_ones_that_are():
    assert {"sudoku4-cpu", "sudoku6-cpu", "sudoku9-cpu"} <= set(available())
    with pytest.raises(FileNotFoundError, match="shipped: .*sudoku6-cpu"):
        load_pretrained("sudoku9-gpu")



# what a run may choose without changing the weights it trains: how long, and when and how it is scored
_NOT_THE_RECIPE = {"max_steps", "eval_every", "eval_steps", "eval_copies", "keep_checkpoints"}


@pytest.mark.parametrize("name", ["sudoku4-cpu", "sudoku6-cpu", "sudoku9-cpu", "maze-small-cpu", "arc-small-cpu"])
def test_each_shipped_model_was_trained_by_its_presets_own_recipe(name):
    """A shipped file is what `python -m trm_lib train --preset NAME` trains, given its step count or minutes."""
    import torch
    from dataclasses import asdict
    from trm_lib.config import TrainConfig
    from trm_lib.model import ModelConfig
    from trm_lib.presets import get_preset
    from trm_lib.pretrained import PRETRAINED
    stored = torch.load(PRETRAINED / f"{name}.pt", map_location="cpu", weights_only=True)["config"]
    preset = asdict(get_preset(name))
    assert (stored["task"], stored["grid_size"], stored["dataset"]) == (preset["task"], preset["grid_size"], preset["dataset"])
    for part, defaults in (("model", asdict(ModelConfig(vocab_size=1, seq_len=1))), ("train", asdict(TrainConfig()))):
        skip = _NOT_THE_RECIPE if part == "train" else {"num_heads"} if preset["model"]["mixer"] == "mlp_t" else set()
        # a field added to the config after the file was trained is absent from it: it trained with the default
        shipped = {**defaults, **stored[part]}
        differs = {k: (shipped[k], v) for k, v in preset[part].items()
                   if k not in skip and shipped[k] != (list(v) if isinstance(v, tuple) else v)}
        assert not differs, f"{name}: {part} fields (shipped, preset) differ: {differs}"
