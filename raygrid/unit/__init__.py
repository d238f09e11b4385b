"""One pipeline for a unit of work (no Ray here).

The phases of a unit (intermediate training, target training, zero-shot
evaluation clean and under attack) are defined once, in
:mod:`raygrid.unit.phases`; their keys in :mod:`raygrid.unit.keys` (the
sweep's scheme, which ``raygrid cell`` adopts through
:mod:`raygrid.unit.cellsweep`); the encode and evaluation settings in
:mod:`raygrid.unit.settings`. ``raygrid cell``, ``raygrid attack``, a sweep's
units (:mod:`raygrid.sweep.work`) and the synthetic world's effect
measurements call them.
"""

from __future__ import annotations

from raygrid.unit.keys import attack_key, encoder_key, evaluation_key, trial_key
from raygrid.unit.settings import doc_stride, encode_settings, eval_settings

__all__ = [
    "attack_key",
    "doc_stride",
    "encode_settings",
    "encoder_key",
    "eval_settings",
    "evaluation_key",
    "trial_key",
]
