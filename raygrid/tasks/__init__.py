"""The task catalogue and its data sources.

Nine English intermediate tasks plus CCG (phase 2 of X-STILTs, Phang et al.
2020) and the nine XTREME targets (phase 3), each a :class:`TaskSpec`
registered once in :mod:`raygrid.tasks.registry`. An entry carries all
that is known about its task: hub source and columns, adapter, label names,
training defaults, split sizes (``raygrid plan``) and the builder of its
bundled fixtures (docs/extending.md adds one).

* :mod:`raygrid.tasks.intermediate` -- MNLI, ANLI, QQP, SST-2, SQuAD v1.1/v2,
  HellaSwag, CommonsenseQA, Cosmos QA, CCG;
* :mod:`raygrid.tasks.xtreme` -- XNLI, PAWS-X, UD-POS, PAN-X, XQuAD, MLQA,
  TyDiQA-GoldP, BUCC, Tatoeba;
* :mod:`raygrid.tasks.languages` -- ISO 639-1 codes and the hub's spellings;
* :mod:`raygrid.tasks.adapters` -- hub row -> canonical row;
* :mod:`raygrid.tasks.sources` -- :class:`DataSources` and :func:`load_rows`.

Importing this package is cheap: ``datasets``/``pyarrow`` load on the first
:func:`load_rows`.

Example:
    >>> from raygrid.tasks import get_task, task_names
    >>> task_names("target")[:3]
    ('xnli', 'pawsx', 'udpos')
    >>> get_task("panx").label_names[:3]
    ('O', 'B-PER', 'I-PER')
"""

from __future__ import annotations

from raygrid.tasks.registry import (
    all_tasks,
    available_splits,
    get_task,
    resolve_data_task,
    task_names,
)
from raygrid.tasks.schema import CANONICAL_COLUMNS, canonical_features, check_canonical_row
from raygrid.tasks.sources import DataSources, fixture_path, load_rows
from raygrid.tasks.types import (
    Adapter,
    Defaults,
    FixtureBuilder,
    FormatName,
    HubSource,
    Role,
    Split,
    SplitSizes,
    TaskSpec,
)

__all__ = [
    "CANONICAL_COLUMNS",
    "Adapter",
    "DataSources",
    "Defaults",
    "FixtureBuilder",
    "FormatName",
    "HubSource",
    "Role",
    "Split",
    "SplitSizes",
    "TaskSpec",
    "all_tasks",
    "available_splits",
    "canonical_features",
    "check_canonical_row",
    "fixture_path",
    "get_task",
    "load_rows",
    "resolve_data_task",
    "task_names",
]
