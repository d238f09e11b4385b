"""CCG supertagging: the local-file schema and raygrid's tag inventory.

CCGbank (Hockenmaier & Steedman 2007, LDC2005T13) is LDC-licensed and has no
public copy on the Hugging Face hub, so the ``ccg`` task has ``hub=None`` and
reads only local files (or the bundled fixtures, which are synthetic).

Local layout (any :class:`~raygrid.tasks.sources.DataSources` local dir)::

    <dir>/ccg/train.en.jsonl   # CCGbank sections 02-21
    <dir>/ccg/dev.en.jsonl     # section 00
    <dir>/ccg/test.en.jsonl    # section 23

(``.csv`` and ``.parquet`` work too). One row per sentence::

    {"tokens": ["Pierre", "Vinken", ",", "61", "years", "old"],
     "tags":   ["N/N", "N", ",", "N/N", "N", "(S[adj]\\\\NP)\\\\NP"]}

``tags`` holds one CCG category string per token (as in the leaves of
CCGbank's ``AUTO`` files: ``(<L category ...>)``), or tag ids into
:data:`CCG_TAGS`. This is jiant's layout (space-tokenised text + one tag per
token) with named columns.

Tag inventory. jiant keeps every category seen in training (1,363 classes,
read from a ``tags_to_id.json``). raygrid needs a fixed vocabulary in the
catalogue, so it follows the usual supertagging practice of a frequency
cut-off (Clark & Curran 2007 keep categories seen at least 10 times, about
425): :data:`CCG_TAGS` lists the frequent CCGbank categories and maps every
other category to the catch-all :data:`OTHER_TAG`. This departs from jiant
(rare categories are merged, not predicted); accuracy over a test file is
therefore computed on the merged labels.
"""

from __future__ import annotations

#: Tags outside :data:`CCG_TAGS` map to this class.
OTHER_TAG = "<other>"

#: Frequent CCGbank categories (index = tag id), then :data:`OTHER_TAG`.
CCG_TAGS: tuple[str, ...] = (
    # nouns, noun phrases, determiners, adjectives
    "N",
    "NP",
    "N/N",
    "NP[nb]/N",
    "(N/N)/(N/N)",
    "N\\N",
    "NP\\NP",
    "(NP[nb]/N)\\NP",
    "N/PP",
    "(N\\N)/NP",
    "(NP\\NP)/NP",
    "(NP\\NP)/(S[dcl]\\NP)",
    "(NP\\NP)/(S[dcl]/NP)",
    "(NP\\NP)/S[dcl]",
    "(NP\\NP)/(NP\\NP)",
    "((N/N)/(N/N))/((N/N)/(N/N))",
    "NP/NP",
    "NP/(N/PP)",
    "PP",
    "PP/NP",
    "PP/(S[ng]\\NP)",
    # punctuation and coordination
    ".",
    ",",
    ":",
    ";",
    "LRB",
    "RRB",
    "LQU",
    "RQU",
    "conj",
    # verbs
    "S[dcl]\\NP",
    "(S[dcl]\\NP)/NP",
    "((S[dcl]\\NP)/PP)/NP",
    "(S[dcl]\\NP)/PP",
    "(S[dcl]\\NP)/S[dcl]",
    "(S[dcl]\\NP)/S[em]",
    "(S[dcl]\\NP)/(S[b]\\NP)",
    "(S[dcl]\\NP)/(S[to]\\NP)",
    "(S[dcl]\\NP)/(S[pt]\\NP)",
    "(S[dcl]\\NP)/(S[ng]\\NP)",
    "(S[dcl]\\NP)/(S[pss]\\NP)",
    "(S[dcl]\\NP)/(S[adj]\\NP)",
    "((S[dcl]\\NP)/(S[to]\\NP))/NP",
    "(S[dcl]\\S[dcl])\\NP",
    "S[b]\\NP",
    "(S[b]\\NP)/NP",
    "(S[b]\\NP)/PP",
    "((S[b]\\NP)/PP)/NP",
    "(S[b]\\NP)/(S[adj]\\NP)",
    "(S[b]\\NP)/(S[pt]\\NP)",
    "(S[b]\\NP)/(S[to]\\NP)",
    "(S[to]\\NP)/(S[b]\\NP)",
    "S[ng]\\NP",
    "(S[ng]\\NP)/NP",
    "(S[ng]\\NP)/PP",
    "(S[ng]\\NP)/(S[to]\\NP)",
    "S[pt]\\NP",
    "(S[pt]\\NP)/NP",
    "(S[pt]\\NP)/PP",
    "(S[pt]\\NP)/(S[pss]\\NP)",
    "S[pss]\\NP",
    "(S[pss]\\NP)/PP",
    "(S[pss]\\NP)/NP",
    "S[adj]\\NP",
    "(S[adj]\\NP)/PP",
    "(S[adj]\\NP)/(S[to]\\NP)",
    "(S[adj]\\NP)\\NP",
    "S[em]/S[dcl]",
    # modifiers
    "(S\\NP)\\(S\\NP)",
    "((S\\NP)\\(S\\NP))/NP",
    "((S\\NP)\\(S\\NP))/((S\\NP)\\(S\\NP))",
    "((S\\NP)\\(S\\NP))/S[dcl]",
    "(S\\NP)/(S\\NP)",
    "S/S",
    "(S/S)/NP",
    "(S/S)/S[dcl]",
    "S\\S",
    "(S\\S)/NP",
    "(N/N)\\(N/N)",
    "S[wq]/(S[q]/NP)",
    "(S[q]/(S[b]\\NP))/NP",
    "S[dcl]",
    OTHER_TAG,
)

__all__ = ["CCG_TAGS", "OTHER_TAG"]
