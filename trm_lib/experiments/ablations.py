"""Beyond the training recipe: test-time scaling, and the paper's ablations as one table.

    curve = scaling_curve(model, test_set, n_steps=32)    # exact and valid after every step

    rows = run_ablations(get_preset("sudoku6-cpu"), train_set, test_set, steps=400)
    print(format_table(rows))

Every variant is the base config with a few fields changed (`Variant.overrides`, the same
`key=value` strings as the command line), trained with the same seeds, the same data order
and the same number of optimizer steps, then evaluated with its EMA weights on the same test
puzzles: after the n_sup supervision steps it trained with, and after `scaling` times as many
(test-time scaling). `paper` is the paper's Sudoku-Extreme exact accuracy for that variant, at
its own scale (5M parameters, 65k steps), for comparison only.

The command line runs the same table: `python -m trm_lib ablate --preset sudoku6-cpu --steps 2000`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from trm_lib.config import Config
from trm_lib.evaluate import evaluate
from trm_lib.data.puzzles import PuzzleSet


@dataclass
class ScalingCurve:
    steps: list[int]  # 1, 2, ..., n_steps
    exact: list[float]  # fraction of puzzles whose whole grid equals the stored answer
    valid: list[float]  # fraction whose answer obeys the rules (any valid solution counts)


def scaling_curve(model: torch.nn.Module, puzzles: PuzzleSet, n_steps: int, batch_size: int = 500,
                  device: torch.device | str | None = None) -> ScalingCurve:
    """Exact and valid accuracy after each of `n_steps` supervision steps, run without halting.

    Past the n_sup the model trained with, this is test-time scaling: the same weights,
    more thinking.
    """
    result = evaluate(model, puzzles, n_steps, batch_size, torch.device(device) if device else None,
                      valid_per_step=True)
    return ScalingCurve(list(range(1, n_steps + 1)), result.exact_per_step, result.valid_per_step)


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: tuple[str, ...]  # e.g. ("model.gradient=one_step",)
    paper: float | None  # Sudoku-Extreme exact accuracy in the paper (%), None if not reported
    what: str  # what the switch changes, in a few words

    def paper_for(self, task: str) -> float | None:
        """The paper's figure to print beside a run on `task`: its ablations are Sudoku-Extreme only."""
        return self.paper if task == "sudoku" else None


# The paper's variants, translated to the CPU presets (T=2, n=2, 2 layers): "fewer recursions"
# halves what the base has, as the paper's T=2,n=2 does to its T=3,n=6; "4 layers" halves n
# to keep about the depth, as the paper's 4-layer, n=3 model does (layer passes per recursion:
# 2 calls x 4 layers = 8 against 3 x 2 = 6; the paper's 16 against 14).
VARIANTS: dict[str, Variant] = {v.name: v for v in [
    Variant("full TRM", (), 87.4, "the base config"),
    Variant("1-step gradient", ("model.gradient=one_step",), 56.5, "gradients through the last 2 net calls only"),
    Variant("single z", ("model.latents=z_only",), 71.9, "one latent feature, no separate answer y"),
    Variant("fewer recursions", ("model.T=1", "model.n=1"), 73.7, "T=1, n=1 (paper: T=2, n=2)"),
    Variant("4 layers", ("model.num_layers=4", "model.n=1"), 79.5, "4 layers, n halved (paper: n=3)"),
    Variant("no EMA", ("train.ema_decay=0",), 79.9, "evaluate the raw weights"),
    Variant("two networks", ("model.separate_nets=true",), 82.4, "a second net for the answer update"),
    Variant("attention", ("model.mixer=attention", "model.num_heads=4"), 74.7, "self-attention instead of MLP-t"),
]}


@dataclass
class AblationRow:
    variant: str
    paper: float | None
    params: int
    seeds: tuple[int, ...]
    exact: list[float]  # per seed, after n_sup steps (fractions)
    valid: list[float]
    cell: list[float]  # inflated by the givens, but it moves long before exact does
    exact_scaled: list[float]  # per seed, after scaling * n_sup steps
    minutes: float  # training time of all seeds

    @staticmethod
    def _mean(values: list[float]) -> float:
        return sum(values) / len(values)

    @property
    def mean_exact(self) -> float:
        return self._mean(self.exact)

    @property
    def mean_valid(self) -> float:
        return self._mean(self.valid)

    @property
    def mean_cell(self) -> float:
        return self._mean(self.cell)

    @property
    def mean_exact_scaled(self) -> float:
        return self._mean(self.exact_scaled)


def variant_config(base: Config, variant: Variant | str, steps: int, seed: int = 0) -> Config:
    """The base config with the variant's changes, `steps` optimizer steps and the given seed."""
    v = VARIANTS[variant] if isinstance(variant, str) else variant
    warmup = min(base.train.warmup_steps, max(steps // 4, 1))
    return base.with_overrides([*v.overrides, f"train.max_steps={steps}", f"train.eval_every={steps}",
                                f"train.seed={seed}", f"train.warmup_steps={warmup}"])


def run_ablations(base: Config, train_set: PuzzleSet, test_set: PuzzleSet, steps: int,
                  variants: list[str] | None = None, seeds: tuple[int, ...] = (0,), scaling: int = 4,
                  device: torch.device | str | None = None, progress: bool = True) -> list[AblationRow]:
    """Train every variant for `steps` optimizer steps per seed and evaluate it; one row each."""
    from trm_lib.model import count_parameters
    from trm_lib.train import train

    names = list(VARIANTS) if variants is None else variants
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    if steps < 1 or scaling < 1 or not seeds:
        raise ValueError("steps and scaling must be >= 1 and at least one seed is needed")
    rows = []
    for name in names:
        v = VARIANTS[name]
        exact, valid, cell, scaled, seconds, params = [], [], [], [], 0.0, 0
        for seed in seeds:
            cfg = variant_config(base, v, steps, seed)
            start = time.monotonic()
            result = train(cfg, train_set, None, device=device, progress=False, resume=False)
            seconds += time.monotonic() - start
            model, n_sup = result.model, cfg.model.n_sup
            params = count_parameters(model)
            short = evaluate(model, test_set, n_steps=n_sup)
            long = evaluate(model, test_set, n_steps=scaling * n_sup, check_validity=False)
            exact.append(short.exact)
            valid.append(short.valid)
            cell.append(short.cell)
            scaled.append(long.exact)
        row = AblationRow(name, v.paper_for(base.task), params, tuple(seeds), exact, valid, cell, scaled, seconds / 60)
        rows.append(row)
        if progress:
            print(f"{name:17s} exact {row.mean_exact:6.1%} (x{scaling} steps: {row.mean_exact_scaled:6.1%})  "
                  f"cell {row.mean_cell:6.1%}  "
                  f"trained in {row.minutes:.1f} min", flush=True)
    return rows


def format_table(rows: list[AblationRow], scaling: int = 4) -> str:
    """A plain-text table: each variant's accuracy here next to the paper's."""
    head = (f"{'variant':17s} {'params':>8s} {'paper':>6s} {'exact':>7s} {'valid':>7s} "
            f"{f'x{scaling} steps':>9s} {'cell':>6s}  {'exact vs full':>13s}")
    lines = [head, "-" * len(head)]
    base = next((r.mean_exact for r in rows if r.variant == "full TRM"), None)
    for r in rows:
        paper = f"{r.paper:.1f}" if r.paper is not None else "-"
        delta = f"{100 * (r.mean_exact - base):+.1f}" if base is not None and r.variant != "full TRM" else ""
        lines.append(f"{r.variant:17s} {r.params:8,d} {paper:>6s} {100 * r.mean_exact:7.1f} "
                     f"{100 * r.mean_valid:7.1f} {100 * r.mean_exact_scaled:9.1f} {100 * r.mean_cell:6.1f}  {delta:>13s}")
    return "\n".join(lines)
