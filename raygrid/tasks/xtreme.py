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
from raygrid.tasks.types import Defaults, FormatName, HubSource, Role, Split, TaskSpec

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
    citation="Artetxe & Schwenk 2019, Tatoeba (LASER)",
)

#: Catalogue order: XTREME's table of tasks.
XTREME_TASKS: tuple[TaskSpec, ...] = (XNLI, PAWSX, UDPOS, PANX, XQUAD, MLQA, TYDIQA, BUCC, TATOEBA)

__all__ = ["LANGUAGE_SPLITS", "PANX_TAGS", "UPOS_TAGS", "XTREME_TASKS"]
