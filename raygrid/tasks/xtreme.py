"""The XTREME target tasks (Hu et al. 2020), phase 3 of X-STILTs.

Hub ids, configs, splits, columns and label orders, as checked on the dataset
cards (``dataset_info`` of the hub README, written when the repositories were
converted to parquet) and the loading scripts they came from:

=======  ====================================  ==========================  ===============================
task     hub id                                config per language         raygrid split -> hub split
=======  ====================================  ==========================  ===============================
xnli     facebook/xnli                         ``de``                      dev=validation, test=test
pawsx    google-research-datasets/paws-x       ``de``                      train, dev=validation, test
udpos    google/xtreme                         ``udpos.German``            train, dev=validation, test
panx     google/xtreme                         ``PAN-X.de``                train, dev=validation, test
xquad    google/xquad                          ``xquad.de``                test=validation (only split)
mlqa     google/xtreme                         ``MLQA.de.de``              dev=validation, test=test
tydiqa   google-research-datasets/tydiqa       ``secondary_task`` (all)    train, test=validation
bucc     google/xtreme                         ``bucc18.de``               dev=validation, test=test
tatoeba  google/xtreme                         ``tatoeba.deu``             test=validation (only split)
=======  ====================================  ==========================  ===============================

Notes for the people who train and evaluate on these:

* Training data (zero-shot protocol: English only). XNLI trains on MNLI and
  XQuAD/MLQA on SQuAD v1.1 (``train_task``); PAWS-X, UD-POS, PAN-X and
  TyDiQA-GoldP on their own English train split. A target's ``train`` split
  exists for ``en`` only, although the hub also has (machine-translated or
  small) training sets in other languages. BUCC and Tatoeba have no training
  data at all.
* English model-selection data (``dev_task``): XNLI, PAWS-X, UD-POS, PAN-X and
  MLQA use their own English dev split (XNLI: ``dev_task="xnli"``). XQuAD has
  a single split, used as its test set as in XTREME, so its dev data is SQuAD
  v1.1's validation split (``dev_task`` defaults to ``train_task="squad"``).
  TyDiQA-GoldP's only non-train split is the one XTREME reports as test, so
  its English dev data is SQuAD v1.1 too (``dev_task="squad"``): same format,
  and the GoldP split stays a clean test set.
* MLQA comes from ``google/xtreme`` (``MLQA.<l>.<l>``: context and question in
  the same language, XTREME's setting) rather than ``facebook/mlqa``, whose
  conversion to parquet could not be confirmed; the data is MLQA v1 in both.
* TyDiQA-GoldP keeps all languages in one config; rows are selected by the id
  prefix (``"arabic-..."``, see :data:`~raygrid.tasks.languages.TYDIQA_NAMES`).
* UD-POS: Kazakh has only train and test on the hub; Tagalog, Thai and
  Yoruba only test (:data:`LANGUAGE_SPLITS`).
* Label orders: XNLI = MNLI = ANLI (0 entailment, 1 neutral, 2
  contradiction); PAWS-X 0 = not a paraphrase, 1 = paraphrase (hub ClassLabel
  names ``"0"``/``"1"``); UD-POS the 17 UPOS tags in the hub's ClassLabel order
  (:data:`UPOS_TAGS`); PAN-X ``O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC``.
* BUCC/Tatoeba rows are gold pairs, ``source`` non-English and ``target``
  English. ``google/xtreme``'s ``bucc18`` holds only the gold pairs of the
  BUCC 2018 sample (validation) and training (test) sets, not the full
  comparable corpora with unaligned sentences.

Defaults follow jiant's X-STILTs reproduction: learning rate 1e-5; epochs
XNLI 2, PAWS-X 5, UD-POS 10, PAN-X 10, QA 2; batch 32 (classification,
tagging) or 16 (QA); length 256, 384 for QA, 512 for retrieval. Retrieval
tasks are not trained (``num_epochs=0``; ``batch_size`` is the encoding batch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from raygrid.tasks import adapters
from raygrid.tasks.intermediate import NLI_LABELS
from raygrid.tasks.languages import TATOEBA_CODES, TYDIQA_NAMES, UDPOS_CONFIG_NAMES, XTREME_LANGUAGES
from raygrid.tasks.types import Defaults, FormatName, HubSource, Role, Split, SplitSizes, TaskSpec
from raygrid.tasks import fixture_rows

#: The 17 Universal POS tags in the order of ``google/xtreme``'s ``pos_tags`` ClassLabel.
UPOS_TAGS: tuple[str, ...] = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
)  # fmt: skip

#: PAN-X (WikiANN) tags in the order of ``google/xtreme``'s ``ner_tags`` ClassLabel.
PANX_TAGS: tuple[str, ...] = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")

PAWSX_LABELS = ("not_paraphrase", "paraphrase")

XNLI_LANGUAGES = ("en", "ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
PAWSX_LANGUAGES = ("en", "de", "es", "fr", "ja", "ko", "zh")
UDPOS_LANGUAGES = ("en",) + tuple(sorted(code for code in UDPOS_CONFIG_NAMES if code != "en"))
PANX_LANGUAGES = ("en",) + tuple(code for code in XTREME_LANGUAGES if code != "en")
XQUAD_LANGUAGES = ("en", "ar", "de", "el", "es", "hi", "ru", "th", "tr", "vi", "zh")
MLQA_LANGUAGES = ("en", "ar", "de", "es", "hi", "vi", "zh")
TYDIQA_LANGUAGES = ("en",) + tuple(sorted(code for code in TYDIQA_NAMES if code != "en"))
BUCC_LANGUAGES = ("de", "fr", "ru", "zh")
TATOEBA_LANGUAGES = tuple(sorted(TATOEBA_CODES))

#: Hub splits missing for some languages: task -> language -> the splits it has.
LANGUAGE_SPLITS: Mapping[str, Mapping[str, tuple[Split, ...]]] = {
    "udpos": {
        "kk": (Split.TRAIN, Split.TEST),
        "tl": (Split.TEST,),
        "th": (Split.TEST,),
        "yo": (Split.TEST,),
    },
}


def _configs(languages: Iterable[str], config: Callable[[str], str]) -> dict[str, str | None]:
    return {lang: config(lang) for lang in languages}


def _tydiqa_filter(language: str) -> Callable[[Mapping[str, Any]], bool]:
    prefix = TYDIQA_NAMES[language] + "-"

    def keep(row: Mapping[str, Any]) -> bool:
        return str(row["id"]).startswith(prefix)

    return keep


_CLASSIFICATION = dict(learning_rate=1e-5, batch_size=32, max_seq_length=256)
_QA = Defaults(learning_rate=1e-5, num_epochs=2.0, batch_size=16, max_seq_length=384)
_RETRIEVAL = Defaults(learning_rate=1e-5, num_epochs=0.0, batch_size=32, max_seq_length=512)
_QA_COLUMNS = ("id", "context", "question", "answers")
_RETRIEVAL_COLUMNS = ("source_sentence", "target_sentence")


def _same(languages: Iterable[str], size: int) -> dict[str, int]:
    return dict.fromkeys(languages, size)


_PANX_SIZES = {
    **_same("en ar bg de el es et eu fa fi fr he hu id it ja ka ko nl pt ru th tr vi zh".split(), 10_000),
    **_same("af bn hi kk ml mr ms sw ta te tl ur".split(), 1_000),
    **_same("jv my yo".split(), 100),
}
_TATOEBA_SMALL = {"jv": 205, "ka": 746, "kk": 575, "ml": 687, "sw": 390, "ta": 307, "te": 234}


def _target(**kwargs: Any) -> TaskSpec:
    return TaskSpec(role=Role.TARGET, **kwargs)


XNLI = _target(
    name="xnli",
    format=FormatName.CLASSIFICATION,
    metric="accuracy",
    languages=XNLI_LANGUAGES,
    hub=HubSource(
        path="facebook/xnli",
        configs=_configs(XNLI_LANGUAGES, lambda lang: lang),
        splits={Split.DEV: "validation", Split.TEST: "test"},
    ),
    columns=("premise", "hypothesis", "label"),
    adapter=adapters.PairClassification("premise", "hypothesis", NLI_LABELS),
    label_names=NLI_LABELS,
    train_task="mnli",
    dev_task="xnli",
    defaults=Defaults(num_epochs=2.0, **_CLASSIFICATION),  # type: ignore[arg-type]
    # 2,490 dev / 5,010 test pairs per language (Conneau et al. 2018); English
    # train is MNLI's (train_task).
    sizes=SplitSizes(dev=_same(XNLI_LANGUAGES, 2_490), test=_same(XNLI_LANGUAGES, 5_010)),
    fixture=fixture_rows.PairRows("premise", "hypothesis", fixture_rows.NLI_KINDS, index=None),
    citation="Conneau et al. 2018, XNLI",
)

PAWSX = _target(
    name="pawsx",
    format=FormatName.CLASSIFICATION,
    metric="accuracy",
    languages=PAWSX_LANGUAGES,
    hub=HubSource(
        path="google-research-datasets/paws-x",
        configs=_configs(PAWSX_LANGUAGES, lambda lang: lang),
        splits={Split.TRAIN: "train", Split.DEV: "validation", Split.TEST: "test"},
    ),
    columns=("sentence1", "sentence2", "label"),
    adapter=adapters.PairClassification("sentence1", "sentence2", PAWSX_LABELS),
    label_names=PAWSX_LABELS,
    defaults=Defaults(num_epochs=5.0, **_CLASSIFICATION),  # type: ignore[arg-type]
    # en train 49,401; 2,000 dev and test per language (Yang et al. 2019).
    sizes=SplitSizes(train=49_401, dev=_same(PAWSX_LANGUAGES, 2_000), test=_same(PAWSX_LANGUAGES, 2_000)),
    fixture=fixture_rows.build_pawsx,
    citation="Yang et al. 2019, PAWS-X",
)

UDPOS = _target(
    name="udpos",
    format=FormatName.TAGGING,
    metric="accuracy",
    languages=UDPOS_LANGUAGES,
    hub=HubSource(
        path="google/xtreme",
        configs=_configs(UDPOS_LANGUAGES, lambda lang: f"udpos.{UDPOS_CONFIG_NAMES[lang]}"),
        splits={Split.TRAIN: "train", Split.DEV: "validation", Split.TEST: "test"},
    ),
    columns=("tokens", "pos_tags"),
    adapter=adapters.Tagging("tokens", "pos_tags", UPOS_TAGS),
    label_names=UPOS_TAGS,
    defaults=Defaults(num_epochs=10.0, **_CLASSIFICATION),  # type: ignore[arg-type]
    sizes=SplitSizes(
        train=21_253,  # google/xtreme udpos.English train (card)
        # udpos.<Language> validation, each from its hub card.
        dev={
            "en": 3_974, "af": 194, "ar": 909, "bg": 1_115, "de": 19_233, "el": 2_559, "es": 3_054,
            "et": 3_125, "eu": 1_798, "fa": 599, "fi": 3_239, "fr": 5_979, "he": 484, "hi": 1_659,
            "hu": 441, "id": 559, "ja": 511, "ko": 3_016, "mr": 46, "nl": 1_394, "pt": 1_770,
            "ru": 9_960, "ta": 80, "te": 131, "tr": 988, "ur": 552, "vi": 800, "zh": 3_038,
        },  # fmt: skip
        # udpos.<Language> test, each from its hub card. Italian: not checked, left
        # out (the estimate uses the task's median and says so).
        test={
            "en": 5_440, "af": 425, "ar": 1_680, "bg": 1_116, "de": 22_458, "el": 2_809, "es": 3_147,
            "et": 3_760, "eu": 1_799, "fa": 600, "fi": 4_422, "fr": 9_465, "he": 491, "hi": 2_684,
            "hu": 449, "id": 1_557, "ja": 2_372, "kk": 1_047, "ko": 4_276, "mr": 47, "nl": 1_471,
            "pt": 2_681, "ru": 11_336, "ta": 120, "te": 146, "th": 1_000, "tl": 55, "tr": 4_785,
            "ur": 535, "vi": 800, "yo": 100, "zh": 5_528,
        },  # fmt: skip  (mr: UD Marathi-UFAL 47; th: Thai-PUD 1,000 -- PUD treebanks have 1,000 sentences)
    ),
    fixture=fixture_rows.build_udpos,
    citation="Nivre et al. 2018, Universal Dependencies v2.5 (XTREME UD-POS)",
)

PANX = _target(
    name="panx",
    format=FormatName.TAGGING,
    metric="f1",
    languages=PANX_LANGUAGES,
    hub=HubSource(
        path="google/xtreme",
        configs=_configs(PANX_LANGUAGES, lambda lang: f"PAN-X.{lang}"),
        splits={Split.TRAIN: "train", Split.DEV: "validation", Split.TEST: "test"},
    ),
    columns=("tokens", "ner_tags"),
    adapter=adapters.Tagging("tokens", "ner_tags", PANX_TAGS),
    label_names=PANX_TAGS,
    defaults=Defaults(num_epochs=10.0, **_CLASSIFICATION),  # type: ignore[arg-type]
    # PAN-X (WikiANN) with Rahimi et al. (2019)'s splits: 10,000 / 1,000 / 100
    # sentences per dev and test split by language size (en, af, mr, ta, te
    # checked on the hub card); en train 20,000 (PAN-X.en train, card).
    sizes=SplitSizes(train=20_000, dev=_PANX_SIZES, test=_PANX_SIZES),
    fixture=fixture_rows.build_panx,
    citation="Pan et al. 2017, WikiANN (XTREME PAN-X, Rahimi et al. 2019 splits)",
)

XQUAD = _target(
    name="xquad",
    format=FormatName.SPAN_QA,
    metric="f1",
    languages=XQUAD_LANGUAGES,
    hub=HubSource(
        path="google/xquad",
        configs=_configs(XQUAD_LANGUAGES, lambda lang: f"xquad.{lang}"),
        splits={Split.TEST: "validation"},
    ),
    columns=_QA_COLUMNS,
    adapter=adapters.SpanQA(),
    train_task="squad",
    defaults=_QA,
    sizes=SplitSizes(test=_same(XQUAD_LANGUAGES, 1_190)),  # 240 paragraphs, 1,190 questions
    fixture=fixture_rows.build_xquad,
    citation="Artetxe et al. 2020, XQuAD",
)

MLQA = _target(
    name="mlqa",
    format=FormatName.SPAN_QA,
    metric="f1",
    languages=MLQA_LANGUAGES,
    hub=HubSource(
        path="google/xtreme",
        configs=_configs(MLQA_LANGUAGES, lambda lang: f"MLQA.{lang}.{lang}"),
        splits={Split.DEV: "validation", Split.TEST: "test"},
    ),
    columns=_QA_COLUMNS,
    adapter=adapters.SpanQA(),
    train_task="squad",
    dev_task="mlqa",
    defaults=_QA,
    sizes=SplitSizes(
        # MLQA.<l>.<l> validation and test (Lewis et al. 2020, table 4; ar checked on the card).
        dev={"en": 1_148, "ar": 517, "de": 512, "es": 500, "hi": 507, "vi": 511, "zh": 504},
        test={"en": 11_590, "ar": 5_335, "de": 4_517, "es": 5_253, "hi": 4_918, "vi": 5_495, "zh": 5_137},
    ),
    fixture=fixture_rows.build_mlqa,
    citation="Lewis et al. 2020, MLQA",
)

TYDIQA = _target(
    name="tydiqa",
    format=FormatName.SPAN_QA,
    metric="f1",
    languages=TYDIQA_LANGUAGES,
    hub=HubSource(
        path="google-research-datasets/tydiqa",
        configs=_configs(TYDIQA_LANGUAGES, lambda lang: "secondary_task"),
        splits={Split.TRAIN: "train", Split.TEST: "validation"},
        language_filter=_tydiqa_filter,
    ),
    columns=_QA_COLUMNS,
    adapter=adapters.SpanQA(),
    dev_task="squad",
    defaults=_QA,
    sizes=SplitSizes(
        # TyDiQA-GoldP English train (XTREME's training set; the hub's 49,881 is all languages)
        train=3_696,
        # validation per language; they sum to the card's 5,077.
        test={"en": 440, "ar": 921, "bn": 113, "fi": 782, "id": 565, "ko": 276, "ru": 812, "sw": 499, "te": 669},
    ),
    fixture=fixture_rows.build_tydiqa,
    citation="Clark et al. 2020, TyDi QA (gold passage task)",
)

BUCC = _target(
    name="bucc",
    format=FormatName.RETRIEVAL,
    metric="f1",
    languages=BUCC_LANGUAGES,
    hub=HubSource(
        path="google/xtreme",
        configs=_configs(BUCC_LANGUAGES, lambda lang: f"bucc18.{lang}"),
        splits={Split.DEV: "validation", Split.TEST: "test"},
    ),
    columns=_RETRIEVAL_COLUMNS,
    adapter=adapters.Retrieval(),
    defaults=_RETRIEVAL,
    sizes=SplitSizes(  # google/xtreme bucc18.<l> validation and test: gold pairs (card)
        dev={"de": 1_038, "fr": 929, "ru": 2_374, "zh": 257},
        test={"de": 9_580, "fr": 9_086, "ru": 14_435, "zh": 1_899},
    ),
    fixture=fixture_rows.build_bucc,
    citation="Zweigenbaum et al. 2018, BUCC 2018 shared task",
)

TATOEBA = _target(
    name="tatoeba",
    format=FormatName.RETRIEVAL,
    metric="accuracy",
    languages=TATOEBA_LANGUAGES,
    hub=HubSource(
        path="google/xtreme",
        configs=_configs(TATOEBA_LANGUAGES, lambda lang: f"tatoeba.{TATOEBA_CODES[lang]}"),
        splits={Split.TEST: "validation"},
    ),
    columns=_RETRIEVAL_COLUMNS,
    adapter=adapters.Retrieval(),
    defaults=_RETRIEVAL,
    # google/xtreme tatoeba.<iso3> (card: jv 205, ka 746, te 234 and the 1,000s checked;
    # kk 575, ml 687, sw 390, ta 307 are the LASER Tatoeba test sizes XTREME uses).
    sizes=SplitSizes(
        test={
            **_same(tuple(c for c in TATOEBA_LANGUAGES if c not in _TATOEBA_SMALL), 1_000), **_TATOEBA_SMALL,
        },
    ),
    fixture=fixture_rows.build_tatoeba,
    citation="Artetxe & Schwenk 2019, Tatoeba (LASER)",
)

#: Catalogue order: XTREME's table of tasks.
XTREME_TASKS: tuple[TaskSpec, ...] = (XNLI, PAWSX, UDPOS, PANX, XQUAD, MLQA, TYDIQA, BUCC, TATOEBA)

__all__ = ["LANGUAGE_SPLITS", "PANX_TAGS", "UPOS_TAGS", "XTREME_TASKS"]
