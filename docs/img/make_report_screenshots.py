"""Regenerates the report screenshots in this folder (docs/img/report-*.png).

A synthetic sweep (analysis.synthetic: 6 zero-shot languages, 5
intermediates, 5 seeds, 300 examples, four attacks with the names real sweeps
write; hellaswag planted at +15 points conditional robust accuracy in ar and
ur, mnli at +5 points clean transfer everywhere) is analysed as ``raygrid
analyze`` does; headless Chromium renders the report at 1280 CSS px and the
page is cut into the pieces below (the cuts fit this design only)::

    PYTHONPATH=. .venv/bin/python docs/img/make_report_screenshots.py /tmp/shots
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from analysis import analyze
from analysis.synthetic import ExampleDesign, Planted, aggregate_rows, example_rows, simulate_examples, trial_rows, write_sweep_dir

CHROMIUM = "/usr/bin/chromium"
LANGUAGES = ("ar", "ur", "bg", "ru", "hi", "sw")
INTERMEDIATES = ("none", "mnli", "squad", "hellaswag", "anli", "qqp")
ATTACKS = ("char_noise[mode=adaptive]", "char_noise[mode=fixed]", "homoglyph", "typo")
#: (file, (left, top, right, bottom)) in page pixels at 1280 px wide.
CUTS = (
    ("report-summary.png", (0, 0, 1280, 1170)),
    ("report-headline.png", (0, 415, 900, 1170)),
    ("report-attacks.png", (0, 4865, 1280, 5850)),
)


def main(work: Path) -> None:
    from PIL import Image

    work.mkdir(parents=True, exist_ok=True)
    design = ExampleDesign(
        languages=LANGUAGES, intermediates=INTERMEDIATES, attacks=ATTACKS, seeds=5, n_examples=300, seed_sd=0.5,
        planted=(Planted("hellaswag", ("ar", "ur"), robust_gain=0.15), Planted("mnli", LANGUAGES, clean_gain=0.05)),
    )  # fmt: skip
    examples = example_rows(simulate_examples(design, 1, rng=7))
    rows = pd.concat([aggregate_rows(examples), trial_rows(intermediates=INTERMEDIATES)], ignore_index=True)
    os.chdir(work)  # the report names the sweep by the path it was given: runs/sweep
    sweep = write_sweep_dir(Path("runs/sweep"), rows, examples=examples)
    report = analyze(sweep, Path("runs/report"), n_perm=200, jobs=1)
    page = work / "page.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={work / 'profile'}",
         "--window-size=1280,7000", f"--screenshot={page}", report.html_path.resolve().as_uri()],
        check=True, capture_output=True, timeout=180, env={**os.environ, "HOME": str(work)},
    )  # fmt: skip
    image = Image.open(page).convert("RGB")
    for name, box in CUTS:
        image.crop(box).save(Path(__file__).resolve().parent / name, optimize=True)
        print(name)


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
