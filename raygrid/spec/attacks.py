"""The check of a spec's attack suite against the attack registry."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from raygrid.errors import ConfigError
from raygrid.spec.base import Invalid

if TYPE_CHECKING:  # pragma: no cover
    from raygrid.spec.schema import SweepSpec

_ATTACK_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


def check_attacks(spec: SweepSpec) -> None:
    """Each attack of ``spec.attacks`` is registered, its params are valid,
    and no two entries name the same attack (label) (raygrid.attacks)."""
    from raygrid.attacks import ATTACK_NAMES, get_attack

    seen: dict[str, int] = {}
    for index, attack in enumerate(spec.attacks):
        if not _ATTACK_PATTERN.fullmatch(attack.name):
            raise Invalid(("attacks", index, "name"), f"bad name {attack.name!r}", "lower-case letters, digits and '_'")
        if attack.name not in ATTACK_NAMES:
            raise Invalid(
                ("attacks", index, "name"),
                f"unknown attack {attack.name!r}",
                ", ".join(repr(n) for n in ATTACK_NAMES),
                guess=(attack.name, ATTACK_NAMES),
            )
        try:
            # the label names the attack in result rows: two entries with one label would collide
            ident = get_attack(attack.name, **attack.params).label
        except ConfigError as exc:
            problem, _, allowed = str(exc).partition("; allowed: ")
            raise Invalid(("attacks", index, "params"), problem, allowed or None) from None
        if ident in seen:
            raise Invalid(
                ("attacks", index), f"duplicated attack {attack.name!r} (also attacks[{seen[ident]}])", "each attack once"
            )
        seen[ident] = index


__all__ = ["check_attacks"]
