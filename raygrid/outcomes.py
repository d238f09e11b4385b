"""The per-example outcome contract: one row per evaluated example.

Next to the aggregate rows of the results store (docs/results.md), every
confirm run writes one row per (run, target, language, split, attack,
example): what the model predicted on the clean example and on its attacked
version. The statistics of :mod:`analysis` pair these rows on examples
(the same example subsample for every run of a target and language, clean
and attacked) and on seeds.

Layout (under the results directory; the ``_`` keeps the aggregate hive
dataset and DuckDB's ``target=*/language=*`` glob from picking them up)::

    results/_examples/target=<task>/language=<lang>/<run_key>.parquet

Written by :func:`raygrid.store.write_run` before the run's manifest, so a
run's example rows exist exactly when its aggregate rows do.

Columns (the partition keys ``target`` and ``language`` are directories,
not columns of a file):

=====================  ========  ============================================
column                 type      meaning
=====================  ========  ============================================
``run_key``            str       the run (as in the aggregate rows)
``split``              str       ``dev`` or ``test``
``attack``             str       attack label; ``none``: the clean row
``example_key``        str       stable id of the example (the dataset's
                                 ``id`` where it has one, else its index in
                                 the seeded subsample); equal across runs
``stage``              str       ``confirm`` (``cell`` for ``raygrid cell``)
``intermediate``       str       as in the aggregate rows (``none``: baseline)
``intermediate_checkpoint`` str  the key of the intermediate checkpoint the
                                 run started from (``""``: none); constant
                                 over seeds when the intermediate phase was
                                 not replicated per seed
``seed``               int64     the training seed
``cell_key``           str       the grid cell
``gold``               str       JSON of the gold label / answers / tags
``clean_prediction``   str       JSON of the prediction on the clean example
``clean_score``        float64   the task's per-example score on the clean
                                 example: 1.0/0.0 correctness (classification,
                                 multiple choice), F1 (span QA), fraction of
                                 words tagged right (tagging)
``clean_correct``      bool      the attack goal counts the clean prediction as
                                 right (classification: correct; QA: F1 >=
                                 the goal's threshold; tagging: a word right):
                                 the example is attacked
``attacked_prediction`` str      JSON of the prediction on the attacked example
                                 (clean rows: ``null``)
``attacked_score``     float64   the per-example score under attack (NaN on
                                 clean rows; equal to ``clean_score`` when the
                                 example was skipped)
``survived``           bool      attack rows: ``clean_correct`` and the attack
                                 did not succeed (clean rows: ``null``)
``status``             str       ``successful``, ``failed`` or ``skipped``
                                 (attack rows); ``clean``
``perturbation_rate``  float64   fraction of words changed (NaN: clean rows,
                                 embedding-space attacks)
``queries``            int64     model queries the attack spent (clean: 1)
``schema_version``     int64     :data:`raygrid.version.SCHEMA_VERSION`
=====================  ========  ============================================

Derived, per (run, language, attack): attack success rate =
``1 - sum(survived) / sum(clean_correct)``; conditional robust accuracy =
``sum(survived) / sum(clean_correct)``; robust accuracy (score) =
``mean(attacked_score)``; clean score = ``mean(clean_score)``.
"""

from __future__ import annotations

from typing import Any

#: The directory under ``results/`` that holds the per-example rows.
EXAMPLES_DIR = "_examples"
#: ``status`` of a clean row.
CLEAN_STATUS = "clean"

#: Column name -> pyarrow type name, in file order (partition keys excluded).
EXAMPLE_COLUMNS: dict[str, str] = {
    "run_key": "string",
    "split": "string",
    "attack": "string",
    "example_key": "string",
    "stage": "string",
    "intermediate": "string",
    "intermediate_checkpoint": "string",
    "seed": "int64",
    "cell_key": "string",
    "gold": "string",
    "clean_prediction": "string",
    "clean_score": "float64",
    "clean_correct": "bool",
    "attacked_prediction": "string",
    "attacked_score": "float64",
    "survived": "bool",
    "status": "string",
    "perturbation_rate": "float64",
    "queries": "int64",
    "schema_version": "int64",
}

#: The columns :func:`raygrid.store.read_examples` returns: the file columns
#: with the partition keys (``task``: the target) after ``run_key``.
EXAMPLE_FRAME_COLUMNS: tuple[str, ...] = ("run_key", "task", "language", *tuple(EXAMPLE_COLUMNS)[1:])


def example_schema(*, partitions: bool = False) -> Any:
    """The pyarrow schema of an example file (``partitions``: with ``task``
    and ``language``, in :data:`EXAMPLE_FRAME_COLUMNS` order)."""
    import pyarrow as pa

    types = {**EXAMPLE_COLUMNS, "task": "string", "language": "string"}
    names = EXAMPLE_FRAME_COLUMNS if partitions else tuple(EXAMPLE_COLUMNS)
    return pa.schema([pa.field(name, pa.type_for_alias(types[name])) for name in names])


__all__ = ["CLEAN_STATUS", "EXAMPLES_DIR", "EXAMPLE_COLUMNS", "EXAMPLE_FRAME_COLUMNS", "example_schema"]
