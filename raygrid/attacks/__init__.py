"""The adversarial robustness suite for non-English text.

One registry, :func:`get_attack`, resolves a name to its recipe (lazily:
model-based families import torch only when used). Every registered attack
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

import importlib
import inspect
from typing import Any

from raygrid.attacks.attack import Attack, Mode, Perturbed, example_rng, example_seed
from raygrid.errors import ConfigError, one_of, unknown

# name -> "module:factory"; the single place attacks are registered.
_REGISTRY: dict[str, str] = {
    "char_noise": "raygrid.attacks.recipes:char_noise",
    "diacritics": "raygrid.attacks.recipes:diacritics",
    "homoglyph": "raygrid.attacks.recipes:homoglyph",
    "invisible": "raygrid.attacks.recipes:invisible",
    "code_switch": "raygrid.attacks.recipes:code_switch",
    "mlm_substitute": "raygrid.attacks.recipes:mlm_substitute",
    "hotflip": "raygrid.attacks.recipes:hotflip",
    "embedding_pgd": "raygrid.attacks.recipes:embedding_pgd",
}

#: Every registered attack name.
ATTACK_NAMES: tuple[str, ...] = tuple(_REGISTRY)

#: Attacks that perturb text without a model (``raygrid perturb`` runs them).
FIXED_ATTACK_NAMES: tuple[str, ...] = ("char_noise", "diacritics", "homoglyph", "invisible", "code_switch")


def _factory(name: str) -> Any:
    if name not in _REGISTRY:
        raise ConfigError(unknown("attack", name, ATTACK_NAMES))
    module, attr = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), attr)


def get_attack(name: str, **params: Any) -> Attack:
    """The attack registered as ``name``, built with ``params``.

    Raises:
        ConfigError: unknown name (the message lists the valid ones), unknown
            parameter (lists the recipe's), or a bad value.
    """
    factory = _factory(name)
    allowed = [p for p in inspect.signature(factory).parameters]
    bad = sorted(set(params) - set(allowed))
    if bad:
        raise ConfigError(f"attack {name!r}: unknown parameter {bad[0]!r}; allowed: {one_of(allowed)}")
    attack: Attack = factory(**params)
    return attack


def attack_parameters(name: str) -> tuple[str, ...]:
    """The parameters the recipe of ``name`` accepts."""
    return tuple(inspect.signature(_factory(name)).parameters)


def __getattr__(name: str) -> Any:  # lazy: the evaluation API imports torch-side modules on use
    if name in ("evaluate_attacks", "AttackResult", "to_result_rows", "attack_rows"):
        from raygrid.attacks import evaluate

        return getattr(evaluate, name)
    raise AttributeError(name)


__all__ = [
    "ATTACK_NAMES",
    "FIXED_ATTACK_NAMES",
    "Attack",
    "AttackResult",
    "Mode",
    "Perturbed",
    "attack_parameters",
    "attack_rows",
    "evaluate_attacks",
    "example_rng",
    "example_seed",
    "get_attack",
    "to_result_rows",
]
