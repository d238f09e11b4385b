"""Measures the world's three effects over seeds (docs/world.md).

    PYTHONPATH=$PWD python benchmarks/world_effects.py --world .cache/world --seeds 0 1 2 --out runs/world-effects

Builds the world first if needed (cached). Per seed: zero-shot XNLI accuracy
per language (``none -> xnli``), PAWS-X accuracy after ``none`` and after
``qqp``, low-resource XNLI (300 English rows) after ``none`` and after
``anli``, and XNLI accuracy under ``char_noise`` -- all through
``raygrid.cell.run_cell`` and ``raygrid.attacks.evaluate``. Prints one JSON
object: the per-seed numbers and mean/std of each effect.

    PYTHONPATH=$PWD python benchmarks/world_effects.py --robustness --world .cache/world-typos --typos qqp=0.2 --seeds 0 1 2 --jobs 9

on a world whose QQP questions carry typos (``--typos``: user-written text,
as the real QQP's; raygrid.world.noise) instead measures what each intermediate task (``none``, ``qqp``, ``squad``,
``anli``) does to the low-resource XNLI target (``--target-rows``, 300 English rows) under
``char_noise`` (fixed, rate 0.3): per intermediate and language, the
clean-accuracy gain and the conditional-robust-accuracy gain over ``none``
(paired by seed), mean over seeds with a 95% t interval
(``raygrid.world.effects.robustness_by_intermediate``; docs/world.md,
"Robustness").

    PYTHONPATH=$PWD python benchmarks/world_effects.py --from-report runs/demo-report --target xnli

prints the effect table of a finished sweep of the demo's design instead
(``make demo``: the full XNLI target, the searched configs, every confirm
seed), read from the report ``raygrid analyze`` wrote (nothing trained,
nothing written): per intermediate and language, the clean-transfer gain and
the primary endpoint's gain over ``none`` with the report's 95% intervals
(paired on seeds and examples), and the primary endpoint averaged over the
zero-shot languages; a markdown table (docs/world.md, "Five seeds").
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from raygrid.world import World


def _zero_shot_mean(accuracy: dict[str, float]) -> float:
    return statistics.mean(v for lang, v in accuracy.items() if lang != "en")


def _interval(values: list[float]) -> dict[str, float]:
    """Mean and 95% t interval of per-seed values (no interval from one seed)."""
    from scipy import stats as st

    mean = statistics.mean(values)
    if len(values) < 2:
        return {"mean": round(mean, 4), "low": float("nan"), "high": float("nan"), "n": len(values)}
    half = float(st.t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) / len(values) ** 0.5
    return {"mean": round(mean, 4), "low": round(mean - half, 4), "high": round(mean + half, 4), "n": len(values)}


Numbers = dict[str, dict[str, dict[str, float]]]


def _robustness_after(
    name: str, model_dir: Path, data_dir: Path, out: Path, seed: int, target_rows: int
) -> tuple[dict[str, dict[str, float]], float]:
    """One (seed, intermediate)'s ``language -> endpoint -> value`` and its seconds."""
    from dataclasses import replace

    from raygrid.world.effects import ROBUSTNESS_SETTINGS, robustness_after

    started = time.perf_counter()
    settings = replace(ROBUSTNESS_SETTINGS, low_resource=target_rows)
    measured = robustness_after(name, model_dir, data_dir, out, seed=seed, settings=settings)
    numbers = {lang: {"clean": r.clean, "conditional_robust": r.conditional_robust, "attacked": float(r.survived + r.broken)}
               for lang, r in measured.items()}  # fmt: skip
    return numbers, round(time.perf_counter() - started, 1)


def robustness(world: World, seeds: list[int], out_root: Path, jobs: int, target_rows: int) -> None:
    """Prints one JSON line per (seed, intermediate), then the per-intermediate,
    per-language gains over ``none``.

    ``jobs`` (seed, intermediate) pairs train at once, each in its own process
    (one thread each under ``OMP_NUM_THREADS=1``): the same cells, in less
    wall time where there are cores to spare. No two pairs share a cell."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from raygrid.world.effects import ROBUSTNESS_INTERMEDIATES

    names = ("none", *ROBUSTNESS_INTERMEDIATES)
    pairs = [(name, seed) for name in names for seed in seeds]
    by_seed: dict[int, Numbers] = {seed: {} for seed in seeds}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_robustness_after, name, world.model_dir, world.data_dir, out_root / f"seed{seed}", seed,
                               target_rows) for name, seed in pairs]  # fmt: skip
        for (name, seed), future in zip(pairs, futures, strict=True):
            numbers, seconds = future.result()
            print(json.dumps({"seed": seed, "intermediate": name, "robustness": numbers, "seconds": seconds}), flush=True)
            by_seed[seed][name] = numbers
    per_seed = [{name: by_seed[seed][name] for name in names} for seed in seeds]
    langs = list(per_seed[0]["none"])
    others = [lang for lang in langs if lang != "en"]
    summary: dict[str, object] = {}
    for name in per_seed[0]:
        for endpoint in ("clean", "conditional_robust"):
            summary[f"{name}/{endpoint}"] = {lang: _interval([r[name][lang][endpoint] for r in per_seed]) for lang in langs}
        if name == "none":
            continue
        for endpoint in ("clean", "conditional_robust"):
            gains = {lang: [r[name][lang][endpoint] - r["none"][lang][endpoint] for r in per_seed] for lang in langs}
            table = {lang: _interval(values) for lang, values in gains.items()}
            table["mean of six"] = _interval([statistics.mean(g[i] for lang, g in gains.items() if lang in others)
                                              for i in range(len(per_seed))])  # fmt: skip
            summary[f"{name}/{endpoint}_gain"] = table
    print(json.dumps({"summary": summary, "seeds": seeds, "target_rows": target_rows}, indent=2))


def _points(row: object) -> str:
    gain, low, high = (100 * float(getattr(row, k)) for k in ("gain", "ci_low", "ci_high"))
    return f"{gain:+.1f} [{low:+.1f}, {high:+.1f}]"


def from_report(report: Path, target: str) -> None:
    """Prints the demo design's effect table of ``target`` from the CSVs
    ``raygrid analyze`` wrote (read only: the report's own numbers, its
    intervals and its Holm families), gains in points; a primary-endpoint
    gain the report flags (Holm-adjusted p < 0.05) is bold."""
    import pandas as pd

    from analysis.endpoints import CLEAN, CONDITIONAL_ROBUST

    try:
        cells = pd.read_csv(report / f"{target}_cells.csv")
        headline = pd.read_csv(report / f"{target}_headline.csv")
    except FileNotFoundError as err:
        raise SystemExit(
            f"{report}: no {target}_cells.csv / {target}_headline.csv ({err.filename}); "
            f"run `raygrid analyze SWEEP --out {report}` first"
        ) from None
    languages = sorted(set(cells["language"]), key=lambda lang: (lang != "en", lang))
    seeds = sorted(set(cells["n_seeds"]))
    print(f"{target}: seeds per contrast {seeds}, examples per language {sorted(set(cells['n_examples']))}")
    print(f"| intermediate | endpoint | {' | '.join(languages)} | zero-shot mean |")
    print("|" + " --- |" * (len(languages) + 3))
    means = {r.intermediate: r for r in headline.itertuples()}
    for name in sorted(set(cells["intermediate"])):
        for endpoint, label in ((CLEAN, "clean gain"), (CONDITIONAL_ROBUST, "conditional robust accuracy gain")):
            own = {r.language: r for r in cells[(cells["intermediate"] == name) & (cells["endpoint"] == endpoint)].itertuples()}
            values = [_points(own[lang]) if lang in own else "-" for lang in languages]
            values = [f"**{v}**" if lang in own and bool(own[lang].flagged) else v for v, lang in zip(values, languages, strict=True)]
            mean = means.get(name) if endpoint == CONDITIONAL_ROBUST else None
            mean_text = "-" if mean is None else _points(mean)
            if mean is not None and bool(mean.flagged):
                mean_text = f"**{mean_text}**"
            print(f"| {name} | {label} | {' | '.join(values)} | {mean_text} |")


def _typos(given: list[str], parser: argparse.ArgumentParser) -> dict[str, float]:
    typos = {}
    for item in given:
        task, _, rate = item.partition("=")
        try:
            typos[task] = float(rate)
        except ValueError:
            parser.error(f"--typos {item!r}: allowed: TASK=RATE, e.g. qqp=0.2")
    return typos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", default=".cache/world")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="runs/world-effects")
    parser.add_argument("--robustness", action="store_true", help="measure the intermediates' robustness effects instead")
    parser.add_argument("--typos", nargs="*", default=[], metavar="TASK=RATE",
                        help="build the world with typos in these tasks (raygrid.world.noise), e.g. qqp=0.2")
    parser.add_argument("--target-rows", type=int, default=300, help="--robustness: English rows of the XNLI target")
    parser.add_argument("--jobs", type=int, default=1, help="--robustness: (seed, intermediate) pairs trained at once, one process each")
    parser.add_argument("--from-report", type=Path, metavar="REPORT",
                        help="print the effect table of a demo-design sweep from its `raygrid analyze` report instead")
    parser.add_argument("--target", default="xnli", help="--from-report: the target task")
    args = parser.parse_args()
    if args.from_report is not None:
        from_report(args.from_report, args.target)
        return

    from raygrid.world import WorldConfig, build_world
    from raygrid.world.effects import attack_drop, intermediate_gain, low_resource_gain, zero_shot

    config = WorldConfig(typos=_typos(args.typos, parser))
    world = build_world(args.world, config=config, log=print)
    if args.robustness:
        robustness(world, args.seeds, Path(args.out), args.jobs, args.target_rows)
        return
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
