"""The adversarial robustness suite for non-English text.

One registry (:mod:`raygrid.attacks.registry`), :func:`get_attack`,
resolves a name to its recipe (lazily: model-based families import torch
only when used). A recipe declares what its family edits
(:class:`Edits`): the text, which every mode then scores the model on, or
the input embeddings (no text: ``embedding_pgd``). Every registered attack
goes through the contract tests of ``tests/attacks/test_contract.py``.

=================  =========  ==================================================
name               modes      what it does
=================  =========  ==================================================
``char_noise``     fixed,     insert/delete/swap/substitute grapheme clusters
                   adaptive   in the word's script, keyboard typos where known
``diacritics``     fixed,     strip or alter accents (refuses abugidas)
                   adaptive
``homoglyph``      fixed,     Unicode confusables (Latin/Cyrillic/Greek,
                   adaptive   Arabic variants, Han/Katakana)
``invisible``      fixed,     zero-width characters between clusters
                   adaptive
``code_switch``    fixed,     MUSE-dictionary word translation (PolyGloss)
                   adaptive
``mlm_substitute`` adaptive   masked-LM word proposals, same script (BAE)
``hotflip``        white box  gradient-ranked token flips, decoded to text
``embedding_pgd``  white box  robust accuracy under embedding-space PGD
=================  =========  ==================================================

Example:
    >>> from raygrid.attacks import get_attack
    >>> get_attack("char_noise").perturb_text("Das Wetter ist heute sonnig.", "de", seed=1) != ""
    True
    >>> get_attack("char_nois")
    Traceback (most recent call last):
    ...
    raygrid.errors.ConfigError: unknown attack 'char_nois'; allowed: 'char_noise', ...
"""

from __future__ import annotations

from typing import Any

from raygrid.attacks.attack import Attack, Edits, Mode, Perturbed, example_rng, example_seed
from raygrid.attacks.registry import (
    ATTACK_NAMES,
    FIXED_ATTACK_NAMES,
    attack_parameters,
    get_attack,
    parse_attack_params,
)


#: Names served lazily from :mod:`raygrid.attacks.evaluate`.
_EVALUATE = (
    "AttackEvaluation", "AttackResult", "AttackRows", "attack_rows", "evaluate_attacks", "evaluate_with_examples",
    "example_frame", "to_result_rows",
)  # fmt: skip


def __getattr__(name: str) -> Any:  # lazy: the evaluation API imports torch-side modules on use
    if name in _EVALUATE:
        from raygrid.attacks import evaluate

        return getattr(evaluate, name)
    raise AttributeError(name)


__all__ = [
    "ATTACK_NAMES",
    "FIXED_ATTACK_NAMES",
    "Attack",
    "AttackEvaluation",
    "AttackResult",
    "AttackRows",
    "Edits",
    "Mode",
    "Perturbed",
    "attack_parameters",
    "attack_rows",
    "evaluate_attacks",
    "evaluate_with_examples",
    "example_frame",
    "example_rng",
    "example_seed",
    "get_attack",
    "parse_attack_params",
    "to_result_rows",
]
