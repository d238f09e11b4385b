"""The intermediate entries of a grid: ``none``, ``all``, a task, a mixture ``a+b``.

The one definition of :data:`NONE` and :data:`ALL` (``raygrid cell``'s
``--intermediate`` takes the same entries).
"""

from __future__ import annotations

#: The baseline entry: no intermediate training (standard fine-tuning).
NONE = "none"
#: One multi-task cell over every intermediate task of the catalogue.
ALL = "all"
#: Separates the tasks of a multi-task mixture entry (``mnli+squad_v2``).
MIXTURE_SEPARATOR = "+"


def resolve_intermediate(entry: str) -> tuple[str, ...]:
    """The tasks of an intermediate entry: ``none`` -> (), ``all`` -> every
    intermediate task of the catalogue, ``a+b`` -> (a, b) sorted. Assumes a
    valid entry (as in a loaded spec).

    Example:
        >>> resolve_intermediate("squad_v2+mnli")
        ('mnli', 'squad_v2')
    """
    from raygrid.tasks import task_names

    if entry == NONE:
        return ()
    if entry == ALL:
        return tuple(sorted(task_names("intermediate")))
    return tuple(sorted(part.strip() for part in entry.split(MIXTURE_SEPARATOR)))



__all__ = ["ALL", "MIXTURE_SEPARATOR", "NONE", "resolve_intermediate"]
