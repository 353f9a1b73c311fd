"""The ablation table and the test-time scaling curve: every variant trains with the same seeds and budget."""
import json

import pytest

from tests.test_training import tiny_cfg, tiny_sudoku_set
from trm_lib.experiments.ablations import VARIANTS, format_table, run_ablations, scaling_curve, variant_config
from trm_lib.cli import main
from trm_lib.model import TRM


def test_every_variant_changes_only_its_own_fields_and_the_budget():
    base = tiny_cfg()
    for name, v in VARIANTS.items():
        cfg = variant_config(base, name, steps=7, seed=3)
        assert (cfg.train.max_steps, cfg.train.eval_every, cfg.train.seed) == (7, 7, 3)
        changed = {f"model.{k}" for k, val in vars(cfg.model).items() if val != getattr(base.model, k)}
        changed |= {f"train.{k}" for k, val in vars(cfg.train).items()
                    if val != getattr(base.train, k) and k not in ("max_steps", "eval_every", "seed", "warmup_steps")}
        assert changed == {o.split("=")[0] for o in v.overrides}, name


def test_the_paper_numbers_are_those_of_its_table():
    assert {n: v.paper for n, v in VARIANTS.items()} == {
        "full TRM": 87.4, "1-step gradient": 56.5, "single z": 71.9, "fewer recursions": 73.7,
        "4 layers": 79.5, "no EMA": 79.9, "two networks": 82.4, "attention": 74.7}


def test_run_ablations_gives_one_row_per_variant_with_one_value_per_seed():
    data = tiny_sudoku_set(8)
    rows = run_ablations(tiny_cfg(), data, data, steps=2, variants=["full TRM", "two networks"],
                         seeds=(0, 1), scaling=2, progress=False)
    assert [r.variant for r in rows] == ["full TRM", "two networks"]
    assert all(len(r.exact) == len(r.valid) == len(r.exact_scaled) == 2 for r in rows)
    assert rows[1].params > rows[0].params  # the second network adds parameters
    table = format_table(rows, scaling=2)
    assert "87.4" in table and "82.4" in table and "x2 steps" in table


def test_an_unknown_variant_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown variant.*known: full TRM"):
        run_ablations(tiny_cfg(), tiny_sudoku_set(4), tiny_sudoku_set(4), steps=1, variants=["no halting"])


def test_the_scaling_curve_has_one_point_per_step_and_valid_is_at_least_exact():
    data = tiny_sudoku_set(6)
    model = TRM(tiny_cfg().model)
    curve = scaling_curve(model, data, n_steps=3, batch_size=4)
    assert curve.steps == [1, 2, 3] and len(curve.exact) == len(curve.valid) == 3
    assert all(v >= e for v, e in zip(curve.valid, curve.exact))


def test_the_command_line_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "table.json"
    assert main(["ablate", "--preset", "sudoku4-cpu", "--steps", "1", "--eval-size", "4", "--scaling", "1",
                 "--json", str(out), "model.hidden_size=16", "train.batch_size=4",
                 "--variants", "full TRM", "no EMA"]) == 0
    text = capsys.readouterr().out
    assert "full TRM" in text and "no EMA" in text and "79.9" in text
    record = json.loads(out.read_text())
    assert record["steps"] == 1 and [r["variant"] for r in record["rows"]] == ["full TRM", "no EMA"]
