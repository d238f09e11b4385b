"""Recipes: one small factory per registered attack (TextAttack's
``attack_recipes``). Each composes a transformation, constraints and a mode;
:func:`raygrid.attacks.get_attack` calls them with the user's parameters.

Defaults: fixed perturbations edit ``rate = 0.2`` of a row's words (at
least one); adaptive and white-box attacks may change at most
``max_fraction = 0.2`` of them, within ``query_budget = 200`` model queries
per example, trying ``candidates_per_word = 8`` edits per word. Equal word
budgets make fixed and adaptive results of one family comparable.
"""

from __future__ import annotations

from typing import Any

from raygrid.attacks.attack import Attack, Edits, Mode
from raygrid.attacks.transformations import CHAR_OPS, CharNoise, CodeSwitch, Diacritics, Homoglyph, Invisible
from raygrid.attacks.tables import INVISIBLES
from raygrid.errors import ConfigError, one_of

_SEARCH_DEFAULTS: dict[str, Any] = {"rate": 0.2, "max_fraction": 0.2, "query_budget": 200, "candidates_per_word": 8}


def _mode(name: str, mode: str, allowed: tuple[Mode, ...]) -> Mode:
    try:
        value = Mode(mode)
    except ValueError:
        value = None
    if value not in allowed:
        raise ConfigError(
            f"attack {name!r}: mode {mode!r}; allowed: {', '.join(repr(m.value) for m in allowed)}"
        )
    return value


def _attack(
    name: str,
    mode: Mode,
    build: Any,
    given: dict[str, Any],
    search: dict[str, Any],
    *,
    edits: Edits = Edits.TEXT,
    **extra: Any,
) -> Attack:
    params = {k: v for k, v in given.items() if v is not None}
    return Attack(
        name=name, mode=mode, params=params, build=build, extra=extra, edits=edits, **{**_SEARCH_DEFAULTS, **search}
    )


def _split(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    search = {k: params[k] for k in _SEARCH_DEFAULTS if params.get(k) is not None}
    return search, params


def char_noise(
    *,
    mode: str = "fixed",
    ops: str | list[str] | None = None,
    rate: float | None = None,
    max_fraction: float | None = None,
    query_budget: int | None = None,
    candidates_per_word: int | None = None,
) -> Attack:
    """Character noise in the word's script (:class:`~raygrid.attacks.transformations.CharNoise`).

    Args:
        mode: ``"fixed"`` or ``"adaptive"``.
        ops: subset of insert/delete/swap/substitute (list or comma string).
    """
    m = _mode("char_noise", mode, (Mode.FIXED, Mode.ADAPTIVE))
    op_list = tuple(ops.split(",") if isinstance(ops, str) else ops) if ops is not None else CHAR_OPS
    bad = [op for op in op_list if op not in CHAR_OPS]
    if bad or not op_list:  # checked here, not first when a language's transformation is built
        raise ConfigError(f"attack 'char_noise': ops {ops!r}; allowed: a non-empty subset of {one_of(CHAR_OPS)}")
    search, _ = _split(locals())
    given = {"mode": None if mode == "fixed" else mode, "ops": None if op_list == CHAR_OPS else ",".join(op_list), **search}
    return _attack("char_noise", m, lambda lang: CharNoise(lang, ops=op_list), given, search)


def diacritics(
    *,
    mode: str = "fixed",
    operation: str = "strip",
    rate: float | None = None,
    max_fraction: float | None = None,
    query_budget: int | None = None,
    candidates_per_word: int | None = None,
) -> Attack:
    """Strip or alter accents (:class:`~raygrid.attacks.transformations.Diacritics`).

    Args:
        operation: ``"strip"`` (default) or ``"alter"``.
    """
    m = _mode("diacritics", mode, (Mode.FIXED, Mode.ADAPTIVE))
    Diacritics("en", mode=operation)  # validate now
    search, _ = _split(locals())
    given = {"mode": None if mode == "fixed" else mode, "operation": None if operation == "strip" else operation, **search}
    return _attack("diacritics", m, lambda lang: Diacritics(lang, mode=operation), given, search)


def homoglyph(
    *,
    mode: str = "fixed",
    rate: float | None = None,
    max_fraction: float | None = None,
    query_budget: int | None = None,
    candidates_per_word: int | None = None,
) -> Attack:
    """Unicode confusables (:class:`~raygrid.attacks.transformations.Homoglyph`)."""
    m = _mode("homoglyph", mode, (Mode.FIXED, Mode.ADAPTIVE))
    search, _ = _split(locals())
    given = {"mode": None if mode == "fixed" else mode, **search}
    return _attack("homoglyph", m, lambda lang: Homoglyph(lang), given, search)


def invisible(
    *,
    mode: str = "fixed",
    chars: str | None = None,
    rate: float | None = None,
    max_fraction: float | None = None,
    query_budget: int | None = None,
    candidates_per_word: int | None = None,
) -> Attack:
    """Zero-width characters (:class:`~raygrid.attacks.transformations.Invisible`).

    Args:
        chars: the invisible characters to use (default all five).
    """
    m = _mode("invisible", mode, (Mode.FIXED, Mode.ADAPTIVE))
    use = chars or "".join(INVISIBLES)
    Invisible("en", chars=use)
    search, _ = _split(locals())
    given = {"mode": None if mode == "fixed" else mode, "chars": None if chars is None else chars.encode("unicode_escape").decode(), **search}
    return _attack("invisible", m, lambda lang: Invisible(lang, chars=use), given, search)


def code_switch(
    *,
    mode: str = "fixed",
    dictionary: str | None = None,
    target_language: str = "en",
    rate: float | None = None,
    max_fraction: float | None = None,
    query_budget: int | None = None,
    candidates_per_word: int | None = None,
) -> Attack:
    """PolyGloss-style word translation (:class:`~raygrid.attacks.transformations.CodeSwitch`).

    Args:
        dictionary: a MUSE file or a directory of ``<src>-<tgt>.txt`` files
            (default: the tiny bundled ones).
        target_language: the language words are switched into.
    """
    m = _mode("code_switch", mode, (Mode.FIXED, Mode.ADAPTIVE))
    search, _ = _split(locals())
    given = {
        "mode": None if mode == "fixed" else mode,
        "dictionary": dictionary,
        "target_language": None if target_language == "en" else target_language,
        **search,
    }
    return _attack(
        "code_switch", m, lambda lang: CodeSwitch(lang, target_language=target_language, dictionary=dictionary), given, search
    )


def mlm_substitute(
    *,
    mlm: str | None = None,
    top_k: int = 20,
    max_fraction: float | None = None,
    query_budget: int | None = None,
    candidates_per_word: int | None = None,
) -> Attack:
    """BAE-R / BERT-Attack style in-language substitution (adaptive only).

    Args:
        mlm: path or hub id of a masked LM with the tokenizer of the model
            under test's family; default: the model under test's own base
            checkpoint when it has an MLM head (else an explicit error).
        top_k: MLM proposals read per masked word (filtered to the original
            word's script).
    """
    from raygrid.attacks.mlm import MlmSubstitute

    if top_k < 1:
        raise ConfigError(f"attack 'mlm_substitute': top_k {top_k!r}; allowed: an integer >= 1")
    search, _ = _split(locals())
    given = {"mlm": mlm, "top_k": None if top_k == 20 else top_k, **search}
    return _attack(
        "mlm_substitute", Mode.ADAPTIVE, lambda lang: MlmSubstitute(lang, mlm=mlm, top_k=top_k), given, search
    )


def hotflip(
    *,
    max_fraction: float | None = None,
    query_budget: int | None = None,
    candidates_per_word: int | None = None,
) -> Attack:
    """HotFlip token substitution (Ebrahimi et al. 2018), white box.

    The model under test's gradient w.r.t. its input embeddings ranks, per
    position, replacement tokens by the first-order loss increase
    ``(e_new - e_old) . grad``; the vocabulary is restricted to pieces of the
    same script (and the same word-start status) as the token replaced, and
    the edited token sequence is decoded back to text, which is what the
    model is then scored on. Classification and multiple choice only.
    """
    from raygrid.attacks.whitebox import HotflipPlaceholder

    search, _ = _split(locals())
    return _attack("hotflip", Mode.WHITE_BOX, lambda lang: HotflipPlaceholder(lang), dict(search), search)


def embedding_pgd(
    *,
    epsilon: float = 0.05,
    norm: str = "l2",
    steps: int = 10,
    step_size: float | None = None,
) -> Attack:
    """Robust accuracy under embedding-space PGD (Madry et al. 2018; applied
    to XLM-R/mBERT on XNLI and PAWS-X by Huang et al. 2021). No text: the
    attack adds ``delta`` with ``||delta|| <= epsilon`` (per token, ``l2`` or
    ``linf``) to the input word embeddings, ``steps`` projected gradient
    steps of size ``step_size`` (default ``2.5 * epsilon / steps``).
    Classification only.

    Args:
        epsilon: radius of the ball, in embedding units.
        norm: ``"l2"`` or ``"linf"``.
        steps: PGD iterations.
        step_size: step length.
    """
    if norm not in ("l2", "linf"):
        raise ConfigError(f"embedding_pgd: norm {norm!r}; allowed: 'l2' or 'linf'")
    if not epsilon > 0 or steps < 1:
        raise ConfigError("embedding_pgd: epsilon must be > 0 and steps >= 1")
    if step_size is not None and not step_size > 0:
        raise ConfigError(f"embedding_pgd: step_size {step_size!r}; allowed: a number > 0 or null")
    given = {
        "epsilon": None if epsilon == 0.05 else epsilon,
        "norm": None if norm == "l2" else norm,
        "steps": None if steps == 10 else steps,
        "step_size": step_size,
    }
    return _attack(
        "embedding_pgd",
        Mode.WHITE_BOX,
        None,
        given,
        {},
        edits=Edits.EMBEDDINGS,
        epsilon=epsilon,
        norm=norm,
        steps=steps,
        step_size=step_size if step_size is not None else 2.5 * epsilon / steps,
    )


__all__ = [
    "char_noise",
    "code_switch",
    "diacritics",
    "embedding_pgd",
    "homoglyph",
    "hotflip",
    "invisible",
    "mlm_substitute",
]
