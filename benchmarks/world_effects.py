"""Measures the world's three effects over seeds (docs/world.md).

    PYTHONPATH=$PWD python benchmarks/world_effects.py --world .cache/world --seeds 0 1 2 --out runs/world-effects

Builds the world first if needed (cached). Per seed: zero-shot XNLI accuracy
per language (``none -> xnli``), PAWS-X accuracy after ``none`` and after
``qqp``, low-resource XNLI (300 English rows) after ``none`` and after
``anli``, and XNLI accuracy under ``char_noise`` -- all through
``raygrid.cell.run_cell`` and ``raygrid.attacks.evaluate``. Prints one JSON
object: the per-seed numbers and mean/std of each effect.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def _zero_shot_mean(accuracy: dict[str, float]) -> float:
    return statistics.mean(v for lang, v in accuracy.items() if lang != "en")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", default=".cache/world")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="runs/world-effects")
    args = parser.parse_args()

    from raygrid.world import build_world
    from raygrid.world.effects import attack_drop, intermediate_gain, low_resource_gain, zero_shot

    world = build_world(args.world, log=print)
    per_seed = []
    for seed in args.seeds:
        started = time.perf_counter()
        out = Path(args.out) / f"seed{seed}"
        zs = zero_shot(world.model_dir, world.data_dir, out, seed=seed)
        gain = intermediate_gain(world.model_dir, world.data_dir, out, seed=seed)
        low = low_resource_gain(world.model_dir, world.data_dir, out, seed=seed)
        attacked = attack_drop(world.model_dir, world.data_dir, out, seed=seed)
        row = {
            "seed": seed,
            "xnli_zero_shot": zs,
            "pawsx": gain,
            "xnli_low_resource": low,
            "attack": {a: {lang: list(v) for lang, v in by.items()} for a, by in attacked.items()},
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(json.dumps(row), flush=True)
        per_seed.append(row)

    def stats(values: list[float]) -> dict[str, float]:
        return {"mean": round(statistics.mean(values), 4), "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0}

    langs = [lang for lang in per_seed[0]["xnli_zero_shot"] if lang != "en"]
    summary = {
        "xnli_zero_shot": {lang: stats([r["xnli_zero_shot"][lang] for r in per_seed]) for lang in per_seed[0]["xnli_zero_shot"]},
        "xnli_zero_shot_min_non_en": stats([min(r["xnli_zero_shot"][lang] for lang in langs) for r in per_seed]),
        "pawsx_none": stats([_zero_shot_mean(r["pawsx"]["none"]) for r in per_seed]),
        "pawsx_qqp": stats([_zero_shot_mean(r["pawsx"]["qqp"]) for r in per_seed]),
        "pawsx_gain": stats([_zero_shot_mean(r["pawsx"]["qqp"]) - _zero_shot_mean(r["pawsx"]["none"]) for r in per_seed]),
        "pawsx_gain_en": stats([r["pawsx"]["qqp"]["en"] - r["pawsx"]["none"]["en"] for r in per_seed]),
        "xnli_low_resource_none": stats([_zero_shot_mean(r["xnli_low_resource"]["none"]) for r in per_seed]),
        "xnli_low_resource_anli": stats([_zero_shot_mean(r["xnli_low_resource"]["anli"]) for r in per_seed]),
        "xnli_low_resource_gain": stats(
            [_zero_shot_mean(r["xnli_low_resource"]["anli"]) - _zero_shot_mean(r["xnli_low_resource"]["none"]) for r in per_seed]
        ),
        "xnli_low_resource_gain_en": stats(
            [r["xnli_low_resource"]["anli"]["en"] - r["xnli_low_resource"]["none"]["en"] for r in per_seed]
        ),
        "xnli_low_resource_gain_per_language": {
            lang: stats([r["xnli_low_resource"]["anli"][lang] - r["xnli_low_resource"]["none"][lang] for r in per_seed])
            for lang in langs
        },
    }
    for attack in per_seed[0]["attack"]:
        drops = [statistics.mean(c - a for c, a in r["attack"][attack].values()) for r in per_seed]
        summary[f"attack_drop[{attack}]"] = stats(drops)
    print(json.dumps({"summary": summary, "world": str(world.root), "manifest_model": world.manifest.get("model")}, indent=2))


if __name__ == "__main__":
    main()
