"""The English intermediate tasks of Phang et al. (2020), phase 2 of X-STILTs.

Every hub id, config, split, column and label order below was checked
against the dataset card (``dataset_info`` in the hub README) or the
loading script it was converted from:

==============  =========================  ============  ============================================
task            hub id                     config        raygrid split -> hub split
==============  =========================  ============  ============================================
mnli            nyu-mll/glue               mnli          train, dev=validation_matched
anli            facebook/anli              plain_text    train/dev/test = rounds 1+2+3 concatenated
qqp             nyu-mll/glue               qqp           train, dev=validation
sst2            nyu-mll/glue               sst2          train, dev=validation
squad           rajpurkar/squad            plain_text    train, dev=validation
squad_v2        rajpurkar/squad_v2         squad_v2      train, dev=validation
hellaswag       Rowan/hellaswag            (none)        train, dev=validation
commonsenseqa   tau/commonsense_qa         (none)        train, dev=validation
cosmosqa        allenai/cosmos_qa          (none)        train, dev=validation
ccg             (none: CCGbank is LDC)     -             local files only, see raygrid.tasks.ccg
==============  =========================  ============  ============================================

No ``test`` split is mapped where the hub's test split is unlabelled (GLUE
test labels are -1, HellaSwag's ``label`` and CommonsenseQA's ``answerKey``
are empty strings, Cosmos QA's test answers are hidden): intermediate tasks
only need train and dev (model selection). ANLI's test rounds are labelled.

Departures, on purpose:

* ANLI: rounds 1-3 of ``facebook/anli`` concatenated (``train_r1+train_r2+
  train_r3``). The paper's ANLI intermediate task may have mixed in other NLI
  data; a spec can reproduce such a mixture with multi-task training.
* CCG: the tag inventory is cut off at frequent categories (see
  :mod:`raygrid.tasks.ccg`).

Defaults: jiant's simple runscript (learning rate 1e-5, 3 epochs); batch 32
and length 256 for classification and tagging, batch 16 and length 384 for
extractive QA; multiple choice uses batch 16 of 256-token choices (4-5
sequences per example).
"""

from __future__ import annotations

from raygrid.tasks import adapters
from raygrid.tasks.ccg import CCG_TAGS, OTHER_TAG
from raygrid.tasks.types import Defaults, FormatName, HubSource, Role, Split, SplitSizes, TaskSpec
from raygrid.tasks import fixture_rows

NLI_LABELS = ("entailment", "neutral", "contradiction")

_CLASSIFICATION = Defaults(learning_rate=1e-5, num_epochs=3.0, batch_size=32, max_seq_length=256)
_QA = Defaults(learning_rate=1e-5, num_epochs=3.0, batch_size=16, max_seq_length=384)
_CHOICE = Defaults(learning_rate=1e-5, num_epochs=3.0, batch_size=16, max_seq_length=256)
_TAGGING = Defaults(learning_rate=1e-5, num_epochs=3.0, batch_size=32, max_seq_length=256)

_EN = ("en",)
_TRAIN_DEV = {Split.TRAIN: "train", Split.DEV: "validation"}


def _intermediate(**kwargs: object) -> TaskSpec:
    return TaskSpec(role=Role.INTERMEDIATE, languages=_EN, **kwargs)  # type: ignore[arg-type]


MNLI = _intermediate(
    name="mnli",
    format=FormatName.CLASSIFICATION,
    metric="accuracy",
    hub=HubSource(
        path="nyu-mll/glue",
        configs={"en": "mnli"},
        splits={Split.TRAIN: "train", Split.DEV: "validation_matched"},
    ),
    columns=("premise", "hypothesis", "label"),
    adapter=adapters.PairClassification("premise", "hypothesis", NLI_LABELS),
    label_names=NLI_LABELS,
    defaults=_CLASSIFICATION,
    sizes=SplitSizes(
        train=392_702,  # nyu-mll/glue mnli train (card)
        dev={"en": 9_815},  # validation_matched (card)
    ),
    fixture=fixture_rows.PairRows("premise", "hypothesis", fixture_rows.NLI_KINDS),
    citation="Williams et al. 2018, MultiNLI (GLUE)",
)

ANLI = _intermediate(
    name="anli",
    format=FormatName.CLASSIFICATION,
    metric="accuracy",
    hub=HubSource(
        path="facebook/anli",
        configs={"en": "plain_text"},
        splits={
            Split.TRAIN: "train_r1+train_r2+train_r3",
            Split.DEV: "dev_r1+dev_r2+dev_r3",
            Split.TEST: "test_r1+test_r2+test_r3",
        },
    ),
    columns=("premise", "hypothesis", "label"),
    adapter=adapters.PairClassification("premise", "hypothesis", NLI_LABELS),
    label_names=NLI_LABELS,
    defaults=_CLASSIFICATION,
    sizes=SplitSizes(
        train=162_865,  # facebook/anli train_r1+r2+r3 = 16,946 + 45,460 + 100,459 (card)
        dev={"en": 3_200},  # dev_r1+r2+r3 = 1,000 + 1,000 + 1,200 (card)
    ),
    fixture=fixture_rows.build_anli,
    citation="Nie et al. 2020, Adversarial NLI",
)

QQP = _intermediate(
    name="qqp",
    format=FormatName.CLASSIFICATION,
    metric="accuracy",
    hub=HubSource(path="nyu-mll/glue", configs={"en": "qqp"}, splits=_TRAIN_DEV),
    columns=("question1", "question2", "label"),
    adapter=adapters.PairClassification("question1", "question2", ("not_duplicate", "duplicate")),
    label_names=("not_duplicate", "duplicate"),
    defaults=_CLASSIFICATION,
    sizes=SplitSizes(
        train=363_846,  # nyu-mll/glue qqp train (card)
        dev={"en": 40_430},  # validation (card)
    ),
    fixture=fixture_rows.PairRows("question1", "question2", ("other", "same")),
    citation="Iyer et al. 2017, Quora Question Pairs (GLUE)",
)

SST2 = _intermediate(
    name="sst2",
    format=FormatName.CLASSIFICATION,
    metric="accuracy",
    hub=HubSource(path="nyu-mll/glue", configs={"en": "sst2"}, splits=_TRAIN_DEV),
    columns=("sentence", "label"),
    adapter=adapters.SingleClassification("sentence", ("negative", "positive")),
    label_names=("negative", "positive"),
    defaults=_CLASSIFICATION,
    sizes=SplitSizes(
        train=67_349,  # nyu-mll/glue sst2 train (card)
        dev={"en": 872},  # validation (card)
    ),
    fixture=fixture_rows.SingleRows("sentence", ("reversed", "same"), lowercase=True),
    citation="Socher et al. 2013, Stanford Sentiment Treebank (GLUE)",
)

_QA_COLUMNS = ("id", "context", "question", "answers")

SQUAD = _intermediate(
    name="squad",
    format=FormatName.SPAN_QA,
    metric="f1",
    hub=HubSource(path="rajpurkar/squad", configs={"en": "plain_text"}, splits=_TRAIN_DEV),
    columns=_QA_COLUMNS,
    adapter=adapters.SpanQA(),
    defaults=_QA,
    sizes=SplitSizes(
        train=87_599,  # rajpurkar/squad train, v1.1 (card; also google/xtreme SQuAD)
        dev={"en": 10_570},  # validation (card)
    ),
    fixture=fixture_rows.build_squad,
    citation="Rajpurkar et al. 2016, SQuAD v1.1",
)

SQUAD_V2 = _intermediate(
    name="squad_v2",
    format=FormatName.SPAN_QA,
    metric="f1",
    hub=HubSource(path="rajpurkar/squad_v2", configs={"en": "squad_v2"}, splits=_TRAIN_DEV),
    columns=_QA_COLUMNS,
    adapter=adapters.SpanQA(),
    defaults=_QA,
    sizes=SplitSizes(
        train=130_319,  # rajpurkar/squad_v2 train (card)
        dev={"en": 11_873},  # validation (card)
    ),
    fixture=fixture_rows.build_squad_v2,
    citation="Rajpurkar et al. 2018, SQuAD 2.0 (unanswerable questions have empty answers)",
)

HELLASWAG = _intermediate(
    name="hellaswag",
    format=FormatName.MULTIPLE_CHOICE,
    metric="accuracy",
    hub=HubSource(path="Rowan/hellaswag", configs={"en": None}, splits=_TRAIN_DEV),
    columns=("ctx_a", "ctx_b", "endings", "label"),
    adapter=adapters.HellaSwag(num_choices=4),
    num_choices=4,
    defaults=_CHOICE,
    sizes=SplitSizes(
        train=39_905,  # Rowan/hellaswag train (card: 39.9k rows)
        dev={"en": 10_042},  # validation (card: 10k rows)
    ),
    fixture=fixture_rows.build_hellaswag,
    citation="Zellers et al. 2019, HellaSwag",
)

COMMONSENSEQA = _intermediate(
    name="commonsenseqa",
    format=FormatName.MULTIPLE_CHOICE,
    metric="accuracy",
    hub=HubSource(path="tau/commonsense_qa", configs={"en": None}, splits=_TRAIN_DEV),
    columns=("question", "choices", "answerKey"),
    adapter=adapters.CommonsenseQA(num_choices=5),
    num_choices=5,
    defaults=_CHOICE,
    sizes=SplitSizes(
        train=9_741,  # tau/commonsense_qa train (card)
        dev={"en": 1_221},  # validation (card)
    ),
    fixture=fixture_rows.build_commonsenseqa,
    citation="Talmor et al. 2019, CommonsenseQA",
)

COSMOSQA = _intermediate(
    name="cosmosqa",
    format=FormatName.MULTIPLE_CHOICE,
    metric="accuracy",
    hub=HubSource(path="allenai/cosmos_qa", configs={"en": None}, splits=_TRAIN_DEV),
    columns=("context", "question", "answer0", "answer1", "answer2", "answer3", "label"),
    adapter=adapters.CosmosQA(num_choices=4),
    num_choices=4,
    defaults=_CHOICE,
    sizes=SplitSizes(
        train=25_262,  # allenai/cosmos_qa train (card)
        dev={"en": 2_985},  # validation (card)
    ),
    fixture=fixture_rows.build_cosmosqa,
    citation="Huang et al. 2019, Cosmos QA",
)

CCG = _intermediate(
    name="ccg",
    format=FormatName.TAGGING,
    metric="accuracy",
    hub=None,
    columns=("tokens", "tags"),
    adapter=adapters.Tagging("tokens", "tags", CCG_TAGS, fallback=OTHER_TAG),
    label_names=CCG_TAGS,
    defaults=_TAGGING,
    # CCGbank sections 02-21 (train) and 00 (dev) (Hockenmaier & Steedman 2007); LDC-licensed,
    # local files only, so the real counts depend on the user's conversion.
    sizes=SplitSizes(train=39_604, dev={"en": 1_913}),
    fixture=fixture_rows.build_ccg,
    citation="Hockenmaier & Steedman 2007, CCGbank (LDC2005T13; local files only)",
)

#: Splits of tasks without a hub source (local files only).
LOCAL_SPLITS: dict[str, tuple[Split, ...]] = {"ccg": (Split.TRAIN, Split.DEV, Split.TEST)}

#: Catalogue order: the paper's table of intermediate tasks.
INTERMEDIATE_TASKS: tuple[TaskSpec, ...] = (
    MNLI,
    ANLI,
    QQP,
    SST2,
    SQUAD,
    SQUAD_V2,
    HELLASWAG,
    COMMONSENSEQA,
    COSMOSQA,
    CCG,
)

__all__ = ["INTERMEDIATE_TASKS", "LOCAL_SPLITS", "NLI_LABELS"]
