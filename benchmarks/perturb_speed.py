"""Fixed-perturbation throughput: sentences per second per family and script, one core.

Usage (the figures in docs/benchmarks.md):
    taskset -c 0 .venv/bin/python benchmarks/perturb_speed.py --seconds 2

Each family perturbs the bundled corpus sentences of one language per
script (default rate 0.2 of the words, seeded per sentence as in
evaluation: SHA-256 seed + Mersenne Twister per sentence). Languages a
family refuses are reported as "refused".
"""

from __future__ import annotations

import argparse
import json
import time

from raygrid.attacks import FIXED_ATTACK_NAMES, get_attack
from raygrid.errors import ConfigError
from raygrid.testing.tiny import corpus_texts  # noqa: F401  (keeps the corpus loader warm)

LANGUAGES = {"Latin": "de", "Cyrillic": "ru", "Greek": "el", "Arabic": "ar", "Devanagari": "hi", "Thai": "th", "Han": "zh", "Hangul": "ko", "Japanese": "ja", "Vietnamese (Latin)": "vi"}


def _lines(language: str) -> list[str]:
    from importlib import resources

    text = (resources.files("raygrid") / "data" / "corpus" / f"{language}.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def measure(name: str, language: str, seconds: float) -> float | None:
    attack = get_attack(name)
    try:
        attack.check_language(language)
    except ConfigError:
        return None
    lines = _lines(language)
    for i, line in enumerate(lines):  # warm caches
        attack.perturb_text(line, language, seed=0, key=i)
    n, start, key = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        for line in lines:
            attack.perturb_text(line, language, seed=0, key=key)
            key += 1
        n += len(lines)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per family and script")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    table = {
        name: {script: measure(name, lang, args.seconds) for script, lang in LANGUAGES.items()} for name in FIXED_ATTACK_NAMES
    }
    if args.json:
        print(json.dumps(table, indent=2))
        return
    scripts = list(LANGUAGES)
    print("| family | " + " | ".join(f"{s} ({LANGUAGES[s]})" for s in scripts) + " |")
    print("|---" * (len(scripts) + 1) + "|")
    for name, row in table.items():
        cells = ["refused" if row[s] is None else f"{row[s]:,.0f}" for s in scripts]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
