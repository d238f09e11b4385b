"""The one-line 'unknown X' messages."""

from __future__ import annotations

from raygrid.errors import unknown


def test_unknown_lists_what_is_allowed_and_suggests_a_close_spelling() -> None:
    assert unknown("task", "mlni", ["xnli", "mnli", "qqp"]) == (
        "unknown task 'mlni'; allowed: 'mnli', 'qqp' or 'xnli'; did you mean 'mnli'?"
    )
    # an attack named with its default parameters spelt out: the stored name is suggested
    message = unknown("attack", "char_noise[mode=fixed]", ["char_noise", "char_noise[mode=adaptive]", "polygloss"])
    assert message.endswith("did you mean 'char_noise'?") or message.endswith("did you mean 'char_noise[mode=adaptive]'?")


def test_unknown_suggests_nothing_when_nothing_is_close() -> None:
    assert unknown("language", "tlh", ["de", "en"]) == "unknown language 'tlh'; allowed: 'de' or 'en'"
