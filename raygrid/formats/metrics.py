"""Pure metric functions on plain Python lists, shared by formats and attacks.

Nothing here imports torch, datasets or transformers, so the attack suite and
the analysis package can score predictions without a model.

* :func:`accuracy` -- fraction of equal items;
* :func:`binary_f1` -- F1 of one positive class (QQP-style pair tasks);
* :func:`token_accuracy` -- accuracy over all tokens of tag sequences;
* :func:`bio_entities` -- the entities of one BIO tag sequence, with
  conlleval's repair of ill-formed sequences;
* :func:`entity_f1` -- micro-averaged entity precision, recall and F1 over a
  corpus (what conlleval, seqeval's default mode and XTREME's PAN-X report);
* :func:`is_bio_tagset` -- whether a tag vocabulary is BIO-style.

All scores are fractions in [0, 1], not percentages.

Example:
    >>> sorted(bio_entities(["B-PER", "I-PER", "O", "I-LOC"]))
    [('LOC', 3, 4), ('PER', 0, 2)]
    >>> entity_f1([["B-PER", "O"]], [["B-PER", "B-LOC"]])["recall"]
    0.5
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

#: One entity: (type, start, end), token offsets with ``end`` exclusive.
Entity = tuple[str, int, int]

OUTSIDE = "O"


def accuracy(predictions: Sequence[Hashable], references: Sequence[Hashable]) -> float:
    """Fraction of positions where prediction equals reference.

    Raises:
        ValueError: different lengths, or no items.

    Example:
        >>> accuracy([1, 0, 2, 2], [1, 1, 2, 0])
        0.5
    """
    _check_lengths(predictions, references, "predictions", "references")
    if not references:
        raise ValueError("accuracy of zero items is undefined")
    return sum(p == r for p, r in zip(predictions, references, strict=True)) / len(references)


def binary_f1(predictions: Sequence[Hashable], references: Sequence[Hashable], *, positive: Hashable = 1) -> float:
    """F1 of the ``positive`` class; 0.0 when it is neither predicted nor gold.

    Example:
        >>> binary_f1([1, 1, 0, 0], [1, 0, 1, 0])  # tp=1 fp=1 fn=1 -> p=r=0.5
        0.5
    """
    _check_lengths(predictions, references, "predictions", "references")
    tp = sum(p == positive and r == positive for p, r in zip(predictions, references, strict=True))
    n_pred = sum(p == positive for p in predictions)
    n_gold = sum(r == positive for r in references)
    return _prf(tp, n_pred, n_gold)["f1"]


def token_accuracy(pred_sequences: Sequence[Sequence[Hashable]], gold_sequences: Sequence[Sequence[Hashable]]) -> float:
    """Accuracy over every token of every sequence (UD-POS, CCG).

    Raises:
        ValueError: a different number of sequences, or sequences of
            different lengths, or no tokens at all.

    Example:
        >>> token_accuracy([["NOUN", "VERB"], ["DET"]], [["NOUN", "NOUN"], ["DET"]])  # 2 of 3
        0.6666666666666666
    """
    _check_lengths(pred_sequences, gold_sequences, "predicted sequences", "gold sequences")
    flat_pred: list[Hashable] = []
    flat_gold: list[Hashable] = []
    for i, (p, g) in enumerate(zip(pred_sequences, gold_sequences, strict=True)):
        _check_lengths(p, g, f"predicted tags of sequence {i}", f"gold tags of sequence {i}")
        flat_pred.extend(p)
        flat_gold.extend(g)
    return accuracy(flat_pred, flat_gold)


def is_bio_tagset(label_names: Iterable[str]) -> bool:
    """Whether a tag vocabulary is BIO-style (some tag starts with ``B-`` or ``I-``).

    Example:
        >>> is_bio_tagset(["O", "B-PER", "I-PER"]), is_bio_tagset(["NOUN", "VERB"])
        (True, False)
    """
    return any(n.startswith(("B-", "I-")) for n in label_names)


def bio_entities(tags: Sequence[str]) -> set[Entity]:
    """The entities of one BIO (IOB2) tag sequence, repaired as conlleval does.

    An entity starts at ``B-X``, or at an ``I-X`` that does not continue an
    entity of type X (after ``O``, at the start, or after another type); it
    goes on over the following ``I-X`` tags. So ``O I-PER`` holds a PER
    entity, ``B-PER I-ORG`` two entities, and ``B-PER B-PER`` two PER
    entities. (conlleval.pl's ``startOfChunk``/``endOfChunk`` for IOB2 input;
    seqeval's default, non-strict mode agrees.)

    Args:
        tags: ``"O"``, ``"B-TYPE"`` or ``"I-TYPE"`` strings.

    Returns:
        ``{(type, start, end)}`` with ``end`` exclusive.

    Raises:
        ValueError: a tag that is none of ``O``, ``B-*``, ``I-*``.

    Example:
        >>> sorted(bio_entities(["B-PER", "I-ORG", "I-ORG", "B-PER"]))
        [('ORG', 1, 3), ('PER', 0, 1), ('PER', 3, 4)]
    """
    entities: set[Entity] = set()
    current: str | None = None  # type of the open entity
    start = 0
    for i, tag in enumerate(tags):
        if tag == OUTSIDE:
            prefix, kind = OUTSIDE, None
        elif tag[:2] in ("B-", "I-") and len(tag) > 2:
            prefix, kind = tag[0], tag[2:]
        else:
            raise ValueError(f"tag {tag!r} at position {i} is not 'O', 'B-<type>' or 'I-<type>'")
        continues = prefix == "I" and kind == current
        if current is not None and not continues:
            entities.add((current, start, i))
            current = None
        if kind is not None and not continues:
            current, start = kind, i
    if current is not None:
        entities.add((current, start, len(tags)))
    return entities


def entity_f1(
    pred_sequences: Sequence[Sequence[str]], gold_sequences: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Micro-averaged entity precision, recall and F1 over a corpus (PAN-X).

    An entity counts as correct only when type, start and end all match.
    Precision is 0.0 when nothing is predicted, recall 0.0 when there is no
    gold entity, F1 0.0 when both are 0 (as conlleval and seqeval report).

    Args:
        pred_sequences: predicted tag strings, one sequence per sentence.
        gold_sequences: gold tag strings, aligned with ``pred_sequences``.

    Returns:
        ``{"precision", "recall", "f1"}`` as fractions.

    Raises:
        ValueError: mismatched numbers or lengths of sequences, bad tags.

    Example:
        >>> entity_f1([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "B-LOC"]])
        {'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666}
    """
    _check_lengths(pred_sequences, gold_sequences, "predicted sequences", "gold sequences")
    tp = n_pred = n_gold = 0
    for i, (p, g) in enumerate(zip(pred_sequences, gold_sequences, strict=True)):
        _check_lengths(p, g, f"predicted tags of sequence {i}", f"gold tags of sequence {i}")
        pred, gold = bio_entities(p), bio_entities(g)
        tp += len(pred & gold)
        n_pred += len(pred)
        n_gold += len(gold)
    return _prf(tp, n_pred, n_gold)


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _check_lengths(a: Sequence[object], b: Sequence[object], name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{len(a)} {name_a} but {len(b)} {name_b}")


__all__ = [
    "Entity",
    "accuracy",
    "binary_f1",
    "bio_entities",
    "entity_f1",
    "is_bio_tagset",
    "token_accuracy",
]
