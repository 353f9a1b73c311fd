"""`python -m trm_lib info [--preset NAME]`: a preset's config and parameter count."""
from __future__ import annotations

import argparse
import json

from trm_lib.presets import PRESETS, get_preset
from trm_lib.layers import swiglu_width
from trm_lib.limits import check_model_fits
from trm_lib.model import count_parameters
from trm_lib.variants import build_model


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("info", help="print a preset's config and trainable parameter count")
    p.add_argument("--preset", help=f"one of: {', '.join(PRESETS)} (omit to list them)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="change a field, e.g. model.n=4 train.lr=3e-4")
    return p


def run(args: argparse.Namespace) -> int:
    if not args.preset:
        print("presets:")
        for name in PRESETS:
            cfg = get_preset(name)
            print(f"  {name:20s} {cfg.notes}")
        return 0
    cfg = get_preset(args.preset).with_overrides(args.overrides)
    check_model_fits(cfg.model, "cpu")  # info builds the model on the CPU
    model = build_model(cfg.model)
    m = cfg.model
    print(f"preset {cfg.name}: {cfg.notes}")
    print(json.dumps(cfg.to_dict(), indent=2))
    calls = m.T * (m.n + 1)
    print(f"sequence: {m.puzzle_emb_len} prefix + {m.seq_len} cells = {m.total_len} positions")
    print(f"SwiGLU widths: channel {swiglu_width(m.hidden_size, m.expansion)}"
          + (f", token {swiglu_width(m.total_len, m.expansion)}" if m.mixer == "mlp_t" else ""))
    print(f"per supervision step: T(n+1) = {m.T}*({m.n}+1) = {calls} net calls, "
          f"effective depth {calls * m.num_layers} blocks; gradients through the last {m.n + 1} calls")
    print(f"trainable parameters: {count_parameters(model):,} (puzzle embedding excluded; "
          f"{count_parameters(model, include_puzzle_emb=True):,} with it)")
    return 0
