"""``build_world(DIR)``: the world's data, corpus and pretrained model, cached.

Layout of ``DIR`` (the spec names ``DIR/data`` and ``DIR/model``)::

    DIR/world.json                        what was built: generator version, seed, sizes, timings
    DIR/data/<task>/<split>.<lang>.jsonl  hub-schema task files (DataSources(local_dirs=[DIR/data]))
    DIR/corpus/<lang>.txt                 the pretraining corpus
    DIR/model/                            tiny XLM-R MLM (safetensors) + tokenizer

The world is built in a temporary sibling folder and renamed into place, so
``DIR`` is either absent, the previous world, or complete. A second build
with the same generator version, seed and config returns at once.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raygrid.errors import ConfigError
from raygrid.fileio import atomic_write_text
from raygrid.keys import stable_key
from raygrid.world.corpus import CorpusConfig, corpus_lines
from raygrid.world.lexicon import PROFILES
from raygrid.world.noise import DEFAULT_TYPOS, check_typos, noisy_rows, typo_rng
from raygrid.world.pretrain import PretrainConfig
from raygrid.world.tasks import file_plan, lexicons

#: Bump when the generator's output changes for the same seed and config.
GENERATOR_VERSION = 6
MANIFEST = "world.json"

DEFAULT_SIZES: Mapping[str, int] = {
    "intermediate_train": 3000,  # mnli, anli, qqp
    "qa_train": 2000,  # squad
    "pawsx_train": 64,  # the target's own English training set is small on purpose
    "dev": 300,
    "test": 300,
}


@dataclass(frozen=True)
class WorldConfig:
    """Everything that decides the world besides the seed."""

    cognate_share: float = 0.5
    sizes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SIZES))
    corpus: CorpusConfig = CorpusConfig()
    pretrain: PretrainConfig = PretrainConfig()
    #: task -> share of its words given a typo (raygrid.world.noise: user-written text)
    typos: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TYPOS))

    def to_dict(self) -> dict[str, Any]:
        return {
            "cognate_share": self.cognate_share,
            "sizes": dict(sorted(self.sizes.items())),
            "corpus": asdict(self.corpus),
            "pretrain": asdict(self.pretrain),
            # only when given: a world without typos keeps the key it had before the option existed
            **({"typos": dict(sorted(self.typos.items()))} if self.typos else {}),
        }


@dataclass(frozen=True)
class World:
    """A built world: where its parts are and what the build measured."""

    root: Path
    manifest: Mapping[str, Any]
    reused: bool

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"


def _key(seed: int, config: WorldConfig) -> str:
    return stable_key({"generator": GENERATOR_VERSION, "seed": seed, "config": config.to_dict()})


def read_manifest(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((root / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def write_data(root: Path, seed: int, config: WorldConfig) -> dict[str, int]:
    """Writes every task file under ``root`` (``<task>/<split>.<lang>.jsonl``); returns rows per file."""
    check_typos(config.typos)
    lex = lexicons(seed, config.cognate_share)
    written: dict[str, int] = {}
    for task, split, lang, make, n in file_plan(config.sizes):
        rng = random.Random(f"data:{task}:{split}:{lang}:{seed}")
        rows = make(rng, lex[lang], n)
        if config.typos.get(task, 0.0) > 0.0:
            rows = noisy_rows(rows, task, typo_rng(task, split, lang, seed), rate=config.typos[task])
        path = root / task / f"{split}.{lang}.jsonl"
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        written[f"{task}/{split}.{lang}"] = len(rows)
    return written


def translation_pairs(seed: int, config: WorldConfig) -> list[tuple[str, str]]:
    """(English word, its translation) for every content word form of every
    other language; Arabic nouns and adjectives also with their article prefix."""
    lex = lexicons(seed, config.cognate_share)
    english = lex["en"]
    pairs: list[tuple[str, str]] = []
    for code, other in lex.items():
        if code == "en":
            continue
        for concept, forms in other.words.items():
            for variant, word in enumerate(forms):
                pairs.append((english.word(concept, variant), word))
                if code == "ar":
                    pairs.append((english.word(concept, variant), other.functions()["the"] + word))
        for function in ("not", "in", "who", "whom", "where"):
            if other.functions()[function]:
                pairs.append((english.functions()[function], other.functions()[function]))
    return pairs


def write_corpus(root: Path, seed: int, config: WorldConfig) -> list[str]:
    """Writes ``<lang>.txt`` per language under ``root``; returns every line (language order)."""
    by_language = corpus_lines(lexicons(seed, config.cognate_share), seed, config.corpus)
    everything: list[str] = []
    for code, lines in by_language.items():
        atomic_write_text(root / f"{code}.txt", "\n".join(lines) + "\n")
        everything.extend(lines)
    return everything


def build_world(
    out_dir: Path | str,
    *,
    seed: int = 0,
    config: WorldConfig = WorldConfig(),
    force: bool = False,
    with_model: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> World:
    """Builds (or reuses) the world in ``out_dir``.

    Args:
        out_dir: the world's folder; replaced as a whole when rebuilt.
        seed: seeds lexicons, data, corpus and pretraining.
        config: sizes and knobs (see :class:`WorldConfig`).
        force: rebuild even if ``out_dir`` holds this very world.
        with_model: also pretrain the model (tests of the data skip it).
        log: progress messages.

    Raises:
        ConfigError: ``out_dir`` exists and is not a world (refuses to
            replace a folder it did not write).
    """
    from raygrid.world.pretrain import pretrain

    root = Path(out_dir)
    key = _key(seed, config)
    old = read_manifest(root)
    if old is not None and old.get("key") == key and not force and (old.get("model") or not with_model):
        log(f"world: reusing {root} (generator v{GENERATOR_VERSION}, seed {seed})")
        return World(root, old, reused=True)
    if root.exists() and old is None and any(root.iterdir()):
        raise ConfigError(
            f"{root}: exists and holds no {MANIFEST}; refusing to replace it; allowed: an empty folder, "
            "a missing one, or a world folder written by raygrid world build"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        started = time.perf_counter()
        log(f"world: writing task files (seed {seed})")
        files = write_data(tmp / "data", seed, config)
        lines = write_corpus(tmp / "corpus", seed, config)
        data_seconds = time.perf_counter() - started
        model: dict[str, Any] | None = None
        if with_model:
            log(f"world: pretraining a tiny XLM-R on {len(lines)} corpus lines")
            model = pretrain(lines, tmp / "model", seed=seed, config=config.pretrain, log=log,
                             translations=translation_pairs(seed, config))  # fmt: skip
        manifest = {
            "key": key,
            "generator_version": GENERATOR_VERSION,
            "seed": seed,
            "config": config.to_dict(),
            "languages": {code: p.script for code, p in PROFILES.items()},
            "files": files,
            "data_seconds": round(data_seconds, 1),
            "model": model,
        }
        atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        if root.exists():
            shutil.rmtree(root)
        tmp.rename(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"world: wrote {root}")
    return World(root, manifest, reused=False)


__all__ = ["DEFAULT_SIZES", "GENERATOR_VERSION", "World", "WorldConfig", "build_world", "read_manifest"]
