"""The GPU check's summary: one text and one JSON made from the files its parts wrote.

Every figure here is read from a file a part wrote during this run; a part that failed or
was skipped shows as such, never as a number.
"""
from __future__ import annotations

import json
from pathlib import Path


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:  # a line torn by a stopped run
            pass
    return records


def _last_line(path: Path) -> str:
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()] if path.exists() else []
    return lines[-1] if lines else "(no output)"


def _why_not(record: dict) -> dict:
    """What stands in for the figures of a part that wrote none."""
    reason = record.get("reason") or f"see logs/{record['part']}.log"
    return {"missing": f"{record['status']}: {reason}"}


def training_summary(metrics: list[dict], full_steps: int) -> dict | None:
    """Steps, time, the evaluations against minutes, and the full recipe's time at this rate."""
    if not metrics:
        return None
    last = metrics[-1]
    steps, seconds = last["step"], last["time_s"]
    evals = [{"minutes": round(r["time_s"] / 60, 2), "step": r["step"], "exact": r["eval"]["exact"],
              "valid": r["eval"]["valid"]} for r in metrics if "eval" in r]
    per_step = seconds / steps if steps else None
    return {"steps": steps, "seconds": seconds, "seconds_per_step": per_step, "evals": evals,
            "full_recipe_steps": full_steps,
            "full_recipe_hours": per_step * full_steps / 3600 if per_step else None}


def summarise(out: Path, plan, records: list[dict], seconds: float) -> str:
    from trm_lib.presets import get_preset

    env = _json(out / "env.json") or {}
    bench = {r["part"].removeprefix("bench-"): _json(out / f"{r['part']}.json") or _why_not(r)
             for r in records if r["part"].startswith("bench-")}
    full_steps = get_preset(plan.train_preset).train.max_steps
    train = training_summary(_jsonl(out / "metrics.jsonl"), full_steps)
    ema = out / f"{plan.train_preset}-ema-bf16.pt"
    ema_mib = ema.stat().st_size / 2**20 if ema.exists() else None
    data = {"seconds": round(seconds, 1), "tiny": plan.device == "cpu", "env": env, "parts": records,
            "tests": _last_line(out / "logs" / "tests.log"), "bench": bench, "train": train,
            "ema_file": ema.name if ema.exists() else None, "ema_mib": ema_mib}
    (out / "summary.json").write_text(json.dumps(data, indent=1) + "\n")
    text = "\n".join(_lines(data, plan))
    (out / "summary.txt").write_text(text + "\n")
    return text


def _lines(d: dict, plan) -> list[str]:
    env = d["env"]
    where = (f"{env['gpu']} ({env['memory_gib']} GiB)" if env.get("gpu") else
             "the CPU at toy sizes" if d["tiny"] else "no CUDA GPU")
    lines = [f"GPU check on {where}: {d['seconds'] / 60:.1f} of {plan.total_s / 60:.1f} minutes; "
             f"torch {env.get('torch', '?')}, CUDA {env.get('cuda') or '-'}", ""]
    lines.append(f"{'part':34s} {'status':8s} {'seconds':>8s} {'limit':>6s}")
    for r in d["parts"]:
        extra = f"  ({r['reason']})" if r.get("reason") else ""
        lines.append(f"{r['part']:34s} {r['status']:8s} {r['seconds']:8.1f} {r['limit_s']:6.0f}{extra}")
    lines += ["", f"tests: {d['tests']}", ""]
    lines.append(f"bench at batch {plan.batch:<6d}             training: samples x steps/s   ms/step  TFLOP/s  "
                 f"of peak  peak GiB  first call s | inference: of peak")
    peak = None
    for name, b in d["bench"].items():
        if "missing" in b:
            lines.append(f"  {name:32s} ({b['missing']})")
            continue
        mem = f"{b['peak_memory_bytes'] / 2**30:8.1f}" if b["peak_memory_bytes"] is not None else f"{'-':>8s}"
        lines.append(f"  {name:32s} {b['train_samples_steps_per_s']:22.0f} {b['train_seconds'] * 1000:9.1f} "
                     f"{b['train_flops_per_s'] / 1e12:8.1f} {b['train_fraction_of_peak']:8.1%} {mem} "
                     f"{b['first_call_s']:13.1f} | {b['infer_fraction_of_peak']:6.1%}")
        peak = b["peak_flops"], b["peak_what"]
    if peak:
        lines.append(f"  peak (last bench): {peak[0] / 1e12:.1f} TFLOP/s, {peak[1]} measured in the same process")
    lines.append("")
    t = d["train"]
    if t is None:
        lines.append(f"training {plan.train_preset}: no metrics")
    else:
        lines.append(f"training {plan.train_preset}: {t['steps']:,} steps in {t['seconds'] / 60:.1f} minutes "
                     f"({t['seconds_per_step']:.3f} s per step, evaluations included)")
        for e in t["evals"]:
            lines.append(f"  test after {e['minutes']:5.2f} min (step {e['step']:,}): exact {e['exact']:.1%}, "
                         f"valid {e['valid']:.1%}")
        lines.append(f"  the full recipe ({t['full_recipe_steps']:,} steps) at this rate: "
                     f"{t['full_recipe_hours']:.2f} hours")
    if d["ema_mib"] is not None:
        lines.append(f"EMA weights (bf16): {d['ema_file']}, {d['ema_mib']:.1f} MiB"
                     f" ({'under' if d['ema_mib'] < 16 else 'OVER'} 16 MiB)")
    else:
        lines.append("EMA weights: not written")
    return lines
