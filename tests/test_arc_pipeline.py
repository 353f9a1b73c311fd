"""ARC-AGI end to end: the build's splits and puzzle ids, the batches, training with many puzzle
ids (sparse sign-SGD, the carry, 2 gloo processes = 1), the official crop, vote and score."""
import json
import os
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

import trm_lib.train
from trm_lib.act import initial_carry, refill
from trm_lib.arc_eval import Candidate, crop, evaluate_arc, rank_answers, score
from trm_lib.checkpoint import read_checkpoint
from trm_lib.data.arc import ArcTask, to_canvas
from trm_lib.data.arc_set import ArcBatches, arc_splits, build_arc
from trm_lib.losses import IGNORE_INDEX
from trm_lib.model import TRM, count_parameters
from trm_lib.presets import PRESETS
from trm_lib.train import train
from tests.test_training import _free_port


def fake_tasks(count: int, seed: int, subset_offset: int = 0) -> list[ArcTask]:
    """Tasks whose outputs are their inputs flipped left-right: 3 demonstrations, 1 or 2 tests."""
    rng = np.random.default_rng(seed)

    def pair():
        grid = rng.integers(0, 10, size=tuple(rng.integers(2, 5, size=2)), dtype=np.uint8)
        return grid, grid[:, ::-1].copy()

    return [ArcTask(f"t{subset_offset + i}", [pair() for _ in range(3)], [pair() for _ in range(1 + i % 2)])
            for i in range(count)]


SUBSETS = [("training", fake_tasks(4, 0)), ("evaluation", fake_tasks(3, 1, subset_offset=10))]


def tiny_arc_cfg(num_puzzle_ids: int, **train_fields):
    cfg = PRESETS["arc-small-cpu"]
    model = replace(cfg.model, seq_len=36, hidden_size=16, num_heads=2, num_puzzle_ids=num_puzzle_ids, n_sup=3)
    recipe = replace(cfg.train, batch_size=8, max_steps=4, eval_every=2, warmup_steps=1, ema_decay=0.9,
                     augment_pool=3, eval_copies=0, **train_fields)
    return replace(cfg, name="arc-tiny", grid_size=6, model=model, train=recipe)


def test_splits_put_training_tasks_in_train_and_evaluation_test_pairs_in_test_under_shared_ids():
    train_set, test_set, seen = build_arc(SUBSETS, size=6, num_aug=3, seed=42)
    assert train_set.num_groups == 7 and test_set.num_groups == 3 and seen.num_groups == 4
    # ids: 1.. in order of first appearance in the train split, 0 is blank
    assert sorted(train_set.puzzle_id.tolist()) == list(range(1, train_set.num_puzzle_ids))
    names = {train_set.name(p): train_set.puzzle_id[p] for p in range(len(train_set.puzzle_id))}
    for p in range(len(test_set.puzzle_id)):  # an evaluation task's puzzle has one id in both splits
        assert names[test_set.name(p)] == test_set.puzzle_id[p]
    # an evaluation task's test outputs are never in the train split
    test_outputs = {o.tobytes() for _, tasks in SUBSETS[1:] for t in tasks for _, o in t.test}
    assert not test_outputs & {train_set.pairs[k][1].tobytes() for k in train_set.example_pair}
    assert (test_set.example_offset == 0).all() and (seen.example_offset == 0).all()


def test_translation_leaves_one_example_per_train_puzzle_in_place_and_every_grid_on_the_canvas():
    train_set, _, _ = build_arc(SUBSETS, size=6, num_aug=3, seed=42)
    starts = train_set.puzzle_start
    in_place = [(train_set.example_offset[starts[p]:starts[p + 1]] == 0).all(1).sum() for p in range(len(starts) - 1)]
    assert min(in_place) >= 1 and train_set.example_offset.max() > 0
    inputs, labels, ids = train_set.tokens(np.arange(len(train_set)))  # to_canvas refuses a grid off the canvas
    assert (labels != IGNORE_INDEX).any(1).all() and not (labels == 0).any()  # PAD carries no target


def test_the_small_arc_build_matches_its_preset():
    cfg = PRESETS["arc-small-cpu"]
    train_set, test_set, seen = arc_splits(cfg.dataset, cfg.grid_size, cfg.train.augment_pool)
    assert (train_set.num_groups, test_set.num_groups, seen.num_groups) == (255, 77, 178)
    assert sum(len(test_set.tasks[t].test) for t in set(test_set.puzzle_task.tolist())) == 88
    assert train_set.num_puzzle_ids == cfg.model.num_puzzle_ids == len(train_set.puzzle_id) + 1


@pytest.mark.skipif(not os.environ.get("TRM_SLOW"), reason="about 5 minutes: set TRM_SLOW=1")
def test_seed_42_draws_the_official_arc_agi_1_test_split():
    _, test_set, _ = arc_splits("arcagi", 30, 1000)
    assert (len(test_set.puzzle_id), len(test_set)) == (368_150, 385_815)


def test_batches_visit_every_task_once_an_epoch_and_are_a_function_of_their_index():
    train_set, _, _ = build_arc(SUBSETS, size=6, num_aug=3, seed=42)
    batches = ArcBatches(train_set, 5, seed=0)
    epoch = batches.epoch(0)
    groups = np.searchsorted(train_set.group_start, np.searchsorted(train_set.puzzle_start, epoch, "right") - 1, "right")
    assert sorted(set(groups.tolist())) == list(range(1, 8)) and len(epoch) == batches.per_epoch
    first = [t.clone() for t in batches(3)]
    batches(0), batches(7)
    assert all(torch.equal(a, b) for a, b in zip(first, batches(3)))
    assert all(torch.equal(a, b) for a, b in zip(first, ArcBatches(train_set, 5, seed=0)(3)))


def test_a_refilled_slot_takes_its_new_puzzles_id_and_the_others_keep_theirs():
    model = TRM(tiny_arc_cfg(20).model)
    x = torch.full((3, 36), 2)
    carry = initial_carry(model, x, x, torch.tensor([0, 0, 0]))
    carry = refill(model, carry, x, x, torch.tensor([4, 5, 6]))
    carry.halted = torch.tensor([False, True, False])
    carry = refill(model, carry, x, x, torch.tensor([7, 8, 9]))
    assert carry.puzzle_ids.tolist() == [4, 8, 6]


def test_training_on_arc_changes_only_the_puzzle_rows_it_saw_and_saves_the_table(tmp_path):
    train_set, test_set, _ = build_arc(SUBSETS, size=6, num_aug=3, seed=42)
    cfg = tiny_arc_cfg(train_set.num_puzzle_ids)
    result = train(cfg, train_set, test_set, out_dir=tmp_path, progress=False, device="cpu")
    table = read_checkpoint(tmp_path / "last.pt")["model"]["puzzle_emb"]
    assert table.shape == (train_set.num_puzzle_ids, 16) and (table[0] == 0).all()  # blank: never in a batch
    assert (table.abs().sum(1) > 0).sum() > 1
    evals = [r["eval"] for r in result.history if "eval" in r]
    assert evals and {"pass@1", "pass@2", "copies"} <= set(evals[-1]) and evals[-1]["tasks"] == 3


def test_a_config_whose_puzzle_ids_differ_from_the_build_is_refused():
    train_set, _, _ = build_arc(SUBSETS, size=6, num_aug=3, seed=42)
    with pytest.raises(ValueError, match=f"model.num_puzzle_ids={train_set.num_puzzle_ids}"):
        train(tiny_arc_cfg(7), train_set, progress=False, device="cpu")


def _arc_ddp_worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank))
    torch.set_num_threads(1)
    train_set, _, _ = build_arc(SUBSETS, size=6, num_aug=3, seed=42)
    train(tiny_arc_cfg(train_set.num_puzzle_ids), train_set, out_dir=out_dir, progress=False, device="cpu")
    torch.distributed.destroy_process_group()


def test_two_gloo_processes_give_every_puzzle_row_the_update_one_process_gives(tmp_path):
    train_set, _, _ = build_arc(SUBSETS, size=6, num_aug=3, seed=42)
    train(tiny_arc_cfg(train_set.num_puzzle_ids), train_set, out_dir=tmp_path / "one", progress=False, device="cpu")
    mp.spawn(_arc_ddp_worker, args=(_free_port(), str(tmp_path / "two")), nprocs=2, join=True)
    one, two = (read_checkpoint(tmp_path / d / "last.pt")["model"] for d in ("one", "two"))
    for name, value in one.items():
        torch.testing.assert_close(two[name], value, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (6, 6), (6, 2)])
def test_crop_gives_back_the_grid_a_canvas_holds(shape):
    grid = np.random.default_rng(0).integers(0, 10, size=shape, dtype=np.uint8)
    assert np.array_equal(crop(to_canvas(grid, size=6), 6), grid)


def test_crop_stops_at_the_first_non_colour_token_as_the_official():
    canvas = to_canvas(np.full((3, 4), 5, dtype=np.uint8), size=6).reshape(6, 6)
    canvas[1, 2] = 1  # an EOS inside row 2 narrows the block from there on: 1x4 or 3x2, the larger
    assert crop(canvas, 6).shape == (3, 2)


def test_the_vote_ranks_by_votes_then_by_mean_halting_confidence():
    a, b, c = (np.full((1, 1), v, dtype=np.uint8) for v in (1, 2, 3))
    ranked = rank_answers([(a, 0.2), (b, 0.9), (a, 0.4), (c, 0.95), (b, 0.7)])
    assert [int(r.grid[0, 0]) for r in ranked] == [2, 1, 3]  # b: 2 votes, mean 0.8; a: 2 votes, mean 0.3
    assert ranked[0] == Candidate(b, 2, pytest.approx(1.6))


def test_score_averages_the_solved_fraction_of_each_tasks_test_inputs():
    _, test_set, _ = build_arc(SUBSETS, size=6, num_aug=3, seed=42)
    preds = np.zeros((len(test_set), 36), dtype=np.int64)
    truth_solved = set()
    for e, p in enumerate(test_set.example_puzzle()):  # answer every copy right, except task t11's 2nd input
        _, out, t, k = test_set.pairs[test_set.example_pair[e]]
        task = test_set.tasks[t]
        if not (task.id == "t11" and k == 1):
            preds[e] = to_canvas(test_set.augmentation(p).apply(out), size=6)
            truth_solved.add(task.id)
    result = score(test_set, preds, np.full(len(test_set), 0.5), n_steps=1)
    assert result.pass_at[1] == pytest.approx((1 + 0.5 + 1) / 3) and result.copy_exact < 1
    sub = result.submission()
    assert set(sub) == {"t10", "t11", "t12"} and len(sub["t11"]) == 2 and set(sub["t10"][0]) == {"attempt_1", "attempt_2"}
    json.dumps(sub)


def test_evaluate_arc_refuses_a_train_split_and_votes_over_the_copies_asked_for():
    train_set, test_set, seen = build_arc(SUBSETS, size=6, num_aug=3, seed=42)
    model = TRM(tiny_arc_cfg(train_set.num_puzzle_ids).model)
    with pytest.raises(ValueError, match="test split"):
        evaluate_arc(model, train_set)
    assert evaluate_arc(model, test_set, n_steps=1, copies=2).copies == 2
    assert evaluate_arc(model, seen, n_steps=1).tasks == 4  # the training tasks' test inputs: a memory check


def test_the_arc_agi_1_preset_has_the_official_parameter_count():
    cfg = PRESETS["arc1-att"]
    model = TRM(replace(cfg.model, num_puzzle_ids=1))  # the table is not a parameter: its size does not count
    assert count_parameters(model) == 6_829_058
    assert (cfg.model.hidden_size, cfg.model.T, cfg.model.n, cfg.train.batch_size) == (512, 3, 4, 768)
    assert (cfg.train.puzzle_emb_lr, cfg.train.weight_decay, cfg.train.augment_pool) == (1e-2, 0.1, 1000)
