"""A synthetic multilingual world in which the study's effects really exist.

Without the hub, raygrid's demo would train a random tiny model on a little
data and every number would sit near chance. This package builds a small
world instead (``raygrid world build DIR``, cached):

* languages over one shared latent grammar (:mod:`raygrid.world.grammar`):
  English plus de (Latin), sw (Latin), ru (Cyrillic), ar (Arabic), hi
  (Devanagari), zh (Han) and ja (kana + kanji), each with its own lexicon in
  its real script, its word order (SVO, SOV, VSO), adjective placement,
  case markers and a share of cognates (:mod:`raygrid.world.lexicon`);
* task files in the catalogue's names, languages and hub schemas
  (:mod:`raygrid.world.tasks`): English ``mnli``, ``qqp`` (built on the same
  relation as PAWS-X) and ``squad``; targets ``xnli``, ``pawsx`` (with a
  small English training set) and ``xquad``;
* a multilingual corpus (:mod:`raygrid.world.corpus`) and a tiny XLM-R
  masked LM pretrained on it (:mod:`raygrid.world.pretrain`, phase 1).

Specs name ``DIR/data`` in ``data.local_dirs`` and ``DIR/model`` as
``model.name_or_path``; nothing downstream knows the data is synthetic.
docs/world.md gives the measured effects.
"""

from __future__ import annotations

from raygrid.world.build import GENERATOR_VERSION, World, WorldConfig, build_world, read_manifest

__all__ = ["GENERATOR_VERSION", "World", "WorldConfig", "build_world", "read_manifest"]
