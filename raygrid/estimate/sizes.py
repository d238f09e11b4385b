"""Real split sizes of every catalogue task, for cost estimates (no download).

Numbers are examples as the Hugging Face hub serves them (``num_examples`` of
each dataset card's ``dataset_info``), the ids being those of
:mod:`raygrid.tasks`. Where a figure was checked against the hub card while
writing this table the comment says "card"; other figures are the split sizes
published with the dataset (paper or release) and say where from.

Training data of a target comes from its ``train_task`` and English dev data
from its ``dev_task`` (:func:`raygrid.tasks.resolve_data_task`): XNLI trains
on MNLI, XQuAD / MLQA / TyDiQA select on SQuAD v1.1 dev, etc. Those are looked
up under the supplying task's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: English training examples per task (the ``train`` split raygrid loads).
ENGLISH_TRAIN: Mapping[str, int] = MappingProxyType(
    {
        "mnli": 392_702,  # nyu-mll/glue mnli train (card)
        "anli": 162_865,  # facebook/anli train_r1+r2+r3 = 16,946 + 45,460 + 100,459 (card)
        "qqp": 363_846,  # nyu-mll/glue qqp train (card)
        "sst2": 67_349,  # nyu-mll/glue sst2 train (card)
        "squad": 87_599,  # rajpurkar/squad train, v1.1 (card; also google/xtreme SQuAD)
        "squad_v2": 130_319,  # rajpurkar/squad_v2 train (card)
        "hellaswag": 39_905,  # Rowan/hellaswag train (card: 39.9k rows)
        "commonsenseqa": 9_741,  # tau/commonsense_qa train (card)
        "cosmosqa": 25_262,  # allenai/cosmos_qa train (card)
        # CCGbank sections 02-21 (Hockenmaier & Steedman 2007); LDC-licensed, local
        # files only, so the real count depends on the user's conversion.
        "ccg": 39_604,
        "pawsx": 49_401,  # google-research-datasets/paws-x en train (Yang et al. 2019)
        "udpos": 21_253,  # google/xtreme udpos.English train (card)
        "panx": 20_000,  # google/xtreme PAN-X.en train (card)
        "tydiqa": 3_696,  # TyDiQA-GoldP English train (XTREME's training set; the hub's 49,881 is all languages)
    }
)

#: English dev examples per task (model selection during trials).
ENGLISH_DEV: Mapping[str, int] = MappingProxyType(
    {
        "mnli": 9_815,  # validation_matched (card)
        "anli": 3_200,  # dev_r1+r2+r3 = 1,000 + 1,000 + 1,200 (card)
        "qqp": 40_430,  # validation (card)
        "sst2": 872,  # validation (card)
        "squad": 10_570,  # validation (card)
        "squad_v2": 11_873,  # validation (card)
        "hellaswag": 10_042,  # validation (card: 10k rows)
        "commonsenseqa": 1_221,  # validation (card)
        "cosmosqa": 2_985,  # validation (card)
        "ccg": 1_913,  # CCGbank section 00
        "xnli": 2_490,  # facebook/xnli en validation (Conneau et al. 2018: 2,490 dev / 5,010 test per language)
        "pawsx": 2_000,  # en validation
        "udpos": 3_974,  # udpos.English validation (card)
        "panx": 10_000,  # PAN-X.en validation (card)
        "mlqa": 1_148,  # MLQA.en.en validation (Lewis et al. 2020, table 4)
    }
)


def _same(languages: str, size: int) -> dict[str, int]:
    return {language: size for language in languages.split()}


#: Per target, per language: the examples of its test split (what the confirm
#: stage scores by default; for XQuAD, TyDiQA-GoldP and Tatoeba the single
#: labelled split, which raygrid calls test).
TEST: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        # 5,010 test pairs per language (Conneau et al. 2018).
        "xnli": _same("en ar bg de el es fr hi ru sw th tr ur vi zh", 5_010),
        # 2,000 per language (Yang et al. 2019).
        "pawsx": _same("en de es fr ja ko zh", 2_000),
        # google/xtreme udpos.<Language> test, each from its hub card. Italian:
        # not checked, left out (the estimate uses the task's median and says so).
        "udpos": {
            "en": 5_440, "af": 425, "ar": 1_680, "bg": 1_116, "de": 22_458, "el": 2_809, "es": 3_147,
            "et": 3_760, "eu": 1_799, "fa": 600, "fi": 4_422, "fr": 9_465, "he": 491, "hi": 2_684,
            "hu": 449, "id": 1_557, "ja": 2_372, "kk": 1_047, "ko": 4_276, "mr": 47, "nl": 1_471,
            "pt": 2_681, "ru": 11_336, "ta": 120, "te": 146, "th": 1_000, "tl": 55, "tr": 4_785,
            "ur": 535, "vi": 800, "yo": 100, "zh": 5_528,
        },  # fmt: skip  (mr: UD Marathi-UFAL 47; th: Thai-PUD 1,000 -- PUD treebanks have 1,000 sentences)
        # PAN-X (WikiANN) with Rahimi et al. (2019)'s splits: 10,000 / 1,000 / 100 test
        # sentences by language size (en, af, mr, ta, te checked on the hub card).
        "panx": {
            **_same("en ar bg de el es et eu fa fi fr he hu id it ja ka ko nl pt ru th tr vi zh", 10_000),
            **_same("af bn hi kk ml mr ms sw ta te tl ur", 1_000),
            **_same("jv my yo", 100),
        },
        "xquad": _same("en ar de el es hi ru th tr vi zh", 1_190),  # 240 paragraphs, 1,190 questions
        # MLQA.<l>.<l> test (Lewis et al. 2020, table 4; ar checked on the card).
        "mlqa": {"en": 11_590, "ar": 5_335, "de": 4_517, "es": 5_253, "hi": 4_918, "vi": 5_495, "zh": 5_137},
        # TyDiQA-GoldP validation per language; they sum to the card's 5,077.
        "tydiqa": {"en": 440, "ar": 921, "bn": 113, "fi": 782, "id": 565, "ko": 276, "ru": 812, "sw": 499, "te": 669},
        # google/xtreme bucc18.<l> test: gold pairs (card).
        "bucc": {"de": 9_580, "fr": 9_086, "ru": 14_435, "zh": 1_899},
        # google/xtreme tatoeba.<iso3> (card: jv 205, ka 746, te 234 and the 1,000s checked;
        # kk 575, ml 687, sw 390, ta 307 are the LASER Tatoeba test sizes XTREME uses).
        "tatoeba": {
            **_same("af ar bg bn de el es et eu fa fi fr he hi hu id it ja ko mr nl pt ru th tl tr ur vi zh", 1_000),
            "jv": 205, "ka": 746, "kk": 575, "ml": 687, "sw": 390, "ta": 307, "te": 234,
        },  # fmt: skip
    }
)

#: Per target, per language: the examples of its dev split, where scoring or
#: calibration uses it (``confirm.eval_split: dev``, BUCC's threshold).
DEV: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "xnli": _same("en ar bg de el es fr hi ru sw th tr ur vi zh", 2_490),
        "pawsx": _same("en de es fr ja ko zh", 2_000),
        "udpos": {
            "en": 3_974, "af": 194, "ar": 909, "bg": 1_115, "de": 19_233, "el": 2_559, "es": 3_054,
            "et": 3_125, "eu": 1_798, "fa": 599, "fi": 3_239, "fr": 5_979, "he": 484, "hi": 1_659,
            "hu": 441, "id": 559, "ja": 511, "ko": 3_016, "mr": 46, "nl": 1_394, "pt": 1_770,
            "ru": 9_960, "ta": 80, "te": 131, "tr": 988, "ur": 552, "vi": 800, "zh": 3_038,
        },  # fmt: skip
        "panx": {
            **_same("en ar bg de el es et eu fa fi fr he hu id it ja ka ko nl pt ru th tr vi zh", 10_000),
            **_same("af bn hi kk ml mr ms sw ta te tl ur", 1_000),
            **_same("jv my yo", 100),
        },
        "mlqa": {"en": 1_148, "ar": 517, "de": 512, "es": 500, "hi": 507, "vi": 511, "zh": 504},
        "bucc": {"de": 1_038, "fr": 929, "ru": 2_374, "zh": 257},  # bucc18.<l> validation (card)
    }
)

#: Sequence windows per span-QA example at length 384, stride 128: SQuAD v1.1
#: contexts are short, about 1.01 windows per question. Longer MLQA / TyDiQA
#: contexts yield more windows, which this estimate does not model.
QA_WINDOWS_PER_EXAMPLE = 1.0


def english_train(task: str) -> int:
    """English training examples of the task that supplies ``task``'s train data."""
    from raygrid.tasks import resolve_data_task

    return ENGLISH_TRAIN[resolve_data_task(task, "train").name]


def english_dev(task: str) -> int:
    """English dev examples of the task that supplies ``task``'s dev data."""
    from raygrid.tasks import resolve_data_task

    return ENGLISH_DEV[resolve_data_task(task, "dev").name]


def eval_size(task: str, language: str, split: str) -> tuple[int, bool]:
    """Examples of ``task``'s ``split`` (``dev`` or ``test``) in ``language``,
    and whether the figure is exact. A language missing from the table gets
    the median of the task's other languages (``False``)."""
    table = (TEST if split == "test" else DEV).get(task, {})
    if language in table:
        return table[language], True
    sizes = sorted(table.values())
    if not sizes:
        raise KeyError(f"no {split} sizes for task {task!r}")
    return sizes[len(sizes) // 2], False


__all__ = ["DEV", "ENGLISH_DEV", "ENGLISH_TRAIN", "QA_WINDOWS_PER_EXAMPLE", "TEST", "english_dev", "english_train", "eval_size"]
