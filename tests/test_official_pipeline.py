"""Where we follow the official pipeline (SamsungSAILMontreal/TinyRecursiveModels): one test each.

The augmentation pool and its epochs, Maze-Hard without augmentation, subsampling the
original files, the puzzle embedding outside the EMA, n_sup = 1, exploration drawn for the
global batch, a checkpoint per evaluation, and trm_lib/README.md naming every difference left.
"""
import json
from pathlib import Path

import torch

from tests.conftest import tiny_config
from tests.test_training import tiny_cfg, tiny_sudoku_set
from trm_lib.act import halting_decision, initial_carry, train_step_forward
from trm_lib.data.augment import AugmentPool
from trm_lib.cli import main
from trm_lib.presets import get_preset
from trm_lib.ema import EMA
from trm_lib.model import TRM
from trm_lib.data.puzzles import load_puzzles, save_puzzles, to_grid
from trm_lib.data.sudoku import is_valid_solution
from trm_lib.train import train

ROOT = Path(__file__).resolve().parents[1]


def test_augment_pool_visits_every_puzzle_once_per_epoch_and_draws_from_a_fixed_pool():
    data = tiny_sudoku_set(count=12)
    key = {tuple(r): i for i, r in enumerate(data.inputs.tolist())}
    assert len(key) == 12  # 12 different puzzles, so a drawn original names its puzzle
    gen = torch.Generator().manual_seed(0)
    originals = AugmentPool(data, pool=3, seed=5, augment=False)
    for epoch in range(3):  # batches of 4: three batches are one epoch of the 12 puzzles
        drawn = [key[tuple(r)] for k in range(3) for r in originals.batch(3 * epoch + k, 4, gen)[0].tolist()]
        assert sorted(drawn) == list(range(12))  # every puzzle once, in a new order each epoch
    pool = AugmentPool(data, pool=3, seed=5)
    assert pool.table.shape[:2] == (12, 4)  # per puzzle: the original and 3 symmetries
    members = set()
    for index in range(300):
        x, y = pool.batch(index, 4, gen)
        assert all(is_valid_solution(to_grid(b, "sudoku"), to_grid(a, "sudoku")) for a, b in zip(x, y))
        members.update(map(tuple, x.tolist()))
    assert 12 * 2 < len(members) <= 12 * 4  # the pool's members are drawn, and nothing else
    assert set(key) <= members  # member 0 of each group is the original puzzle
    assert torch.equal(AugmentPool(data, pool=3, seed=5).table, pool.table)  # fixed by the seed
    assert get_preset("sudoku-extreme-mlp").train.augment_pool == 1000  # as `--num-aug 1000`


def test_maze_hard_preset_trains_without_augmentation_like_the_official_command():
    maze = get_preset("maze-hard-att").train
    assert maze.augment is False
    assert get_preset("sudoku-extreme-mlp").train.augment is True
    data = load_puzzles(ROOT / "datasets" / "maze-9x9" / "test.csv.gz").subset(slice(0, 20))
    pool = AugmentPool(data, pool=maze.augment_pool, seed=0, augment=maze.augment)
    x, y = pool.batch(0, 20, torch.Generator().manual_seed(0))
    originals = {tuple(r) for r in data.inputs.tolist()}
    assert {tuple(r) for r in x.tolist()} == originals  # every puzzle once, untransformed


def test_train_subsample_is_seeded_and_eval_size_all_evaluates_the_whole_test_set(tmp_path, capsys):
    data = tiny_sudoku_set(count=24)
    data.sources = [f"p{i}" for i in range(24)]
    picked = data.subsample(5, seed=3)
    assert len(picked) == 5 and picked.sources == data.subsample(5, seed=3).sources
    assert picked.sources != data.subsample(5, seed=4).sources
    assert len(data.subsample(100, seed=0)) == 24
    csv = tmp_path / "p.csv"
    save_puzzles(data, csv)
    code = main(["train", "--preset", "sudoku4-cpu", "--data", str(csv), "--test", str(csv),
                 "--subsample", "5", "--eval-size", "all", "--out", str(tmp_path / "run"), "--device", "cpu",
                 "model.hidden_size=16", "model.expansion=1.0", "train.batch_size=4",
                 "train.max_steps=2", "train.eval_every=2"])
    assert code == 0
    assert "(5 puzzles of 24, drawn with seed 0)" in capsys.readouterr().out
    records = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["eval"]["n_puzzles"] for r in records if "eval" in r] == [24]


def test_ema_leaves_the_puzzle_embedding_out_so_evaluation_uses_the_live_one():
    model = TRM(tiny_config())
    ema = EMA(model, decay=0.9)
    assert "puzzle_emb" not in ema.names and "head.weight" in ema.names
    with torch.no_grad():
        model.puzzle_emb.fill_(3.0)
        model.head.weight.fill_(1.0)
    ema.update(model)
    with ema.applied(model):
        assert torch.all(model.puzzle_emb == 3.0)  # the live embedding, not an average
        assert not torch.all(model.head.weight == 1.0)  # the network is averaged


def test_a_single_supervision_step_trains_without_exploration():
    model = TRM(tiny_config(n_sup=1, halt_exploration_prob=0.5))
    x = torch.randint(1, 5, (6, 9))
    carry = initial_carry(model, x, x)
    carry, _ = train_step_forward(model, carry, x, x)  # randint(2, 2) used to raise here
    assert carry.halted.all()  # one step is the limit: every slot halts


def test_exploration_is_drawn_for_the_global_batch_and_each_process_keeps_its_slice():
    q = torch.full((8,), 5.0)
    steps = torch.ones(8, dtype=torch.long)
    whole = halting_decision(q, steps, 16, 0.5, torch.Generator().manual_seed(1))
    halves = [halting_decision(q[s], steps[s], 16, 0.5, torch.Generator().manual_seed(1), s, 8)
              for s in (slice(0, 4), slice(4, 8))]
    assert torch.equal(torch.cat(halves), whole)  # two processes explore as one does
    assert not torch.equal(halves[0], halves[1])  # ... and not identically to each other


def test_keep_checkpoints_keeps_one_per_evaluation(tmp_path):
    data = tiny_sudoku_set()
    train(tiny_cfg(max_steps=6, eval_every=3, keep_checkpoints=True), data, data, out_dir=tmp_path,
          progress=False, device="cpu")
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["last.pt", "step_3.pt", "step_6.pt"]
    other = tmp_path / "off"
    train(tiny_cfg(max_steps=6, eval_every=3), data, data, out_dir=other, progress=False, device="cpu")
    assert sorted(p.name for p in other.glob("*.pt")) == ["last.pt"]  # the laptop default
    assert get_preset("sudoku-extreme-mlp").train.keep_checkpoints is True


def test_the_library_readme_names_every_remaining_difference_from_the_paper_and_the_official_code():
    text = (ROOT / "trm_lib" / "README.md").read_text()
    section = text.split("## Faithful to the paper, and where it says otherwise", 1)[1].split("\n## ", 1)[0]
    for needle in ("bf16", "sparse", "continue", "0.5", "CPU presets", "Sudoku-Extreme", "Maze-Hard",
                   "not directly comparable", "50,000 epochs", "AdamATan2",
                   "augment_pool", "without augmentation", "--subsample", "EMA", "exploration",
                   "keep_checkpoints", "lr_min_ratio", "65,104", "6,510", "is refused", "PuzzleEmbeddingSignSGD"):
        assert needle in section, f"the README's differences section does not mention {needle!r}"
    # where the paper's text may name another length or AdamW, the section says how to set them
    assert "train.max_steps" in section and "train.optimizer=adamw" in section
