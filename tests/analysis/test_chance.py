"""analysis.chance: where a target's models are no better than guessing,
and the report's sentence for it."""

from __future__ import annotations

import math

import pandas as pd

from analysis.chance import BAND_SE, at_chance, chance_level, chance_line


def _summary(target: str, accuracies: dict[tuple[str, str], float], n: int = 300) -> pd.DataFrame:
    rows = [
        {"target": target, "intermediate": i, "language": lang, "attack": "none", "metric": "accuracy",
         "mean": acc, "std": 0.01, "n_seeds": 3, "n_examples": float(n)}
        for (i, lang), acc in accuracies.items()
    ]  # fmt: skip
    # attack rows and other metrics are not clean accuracy: never read
    rows.append({"target": target, "intermediate": "none", "language": "de", "attack": "char_noise",
                 "metric": "accuracy", "mean": 0.9, "std": 0.0, "n_seeds": 3, "n_examples": float(n)})  # fmt: skip
    return pd.DataFrame(rows)


def test_chance_comes_from_the_catalogue_for_classification_and_choice_tasks_only() -> None:
    assert chance_level("pawsx") == 0.5
    assert math.isclose(chance_level("xnli") or 0, 1 / 3)
    assert chance_level("hellaswag") == 0.25
    assert chance_level("xquad") is None and chance_level("panx") is None and chance_level("tatoeba") is None
    assert chance_level("no-such-task") is None


def test_a_language_is_at_chance_only_if_every_intermediate_is() -> None:
    band = BAND_SE * math.sqrt(0.25 / 300)  # 0.087 at 300 examples, chance 0.5
    summary = _summary("pawsx", {
        ("none", "de"): 0.52, ("qqp", "de"): 0.5 + band - 0.001,  # both inside the band: at chance
        ("none", "ja"): 0.50, ("qqp", "ja"): 0.5 + band + 0.01,  # one model above it: not
        ("none", "zh"): 0.75, ("qqp", "zh"): 0.80,
    })  # fmt: skip
    assert at_chance(summary, "pawsx", ["de", "ja", "zh", "ko"], 0.5) == {"de": (0.52, 0.5 + band - 0.001)}
    assert at_chance(summary, "xnli", ["de"], 0.5) == {}  # another target's rows


def test_the_sentence_names_where_and_says_what_the_endpoint_then_means() -> None:
    line = chance_line("pawsx", 0.5, {"de": (0.47, 0.53), "ja": (0.46, 0.55)}, n_languages=2)
    assert line is not None and line.startswith("pawsx: in every zero-shot language, clean accuracy is "
                                                "indistinguishable from chance (0.50)")  # fmt: skip
    assert "(0.46-0.55)" in line and "right by luck" in line
    some = chance_line("xnli", 1 / 3, {"zh": (0.36, 0.41)}, n_languages=6)
    assert some is not None and some.startswith("xnli: in zero-shot zh, ") and "(0.33)" in some
    assert chance_line("xnli", 1 / 3, {}, n_languages=6) is None
