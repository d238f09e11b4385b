"""A generated corpus of bad inputs: every one is one line and exit 2, and changes nothing.

Three families, each built by code from real inputs, seeded:

* spec mutations: every field of every shipped spec (``search_spaces/*.yaml``)
  and of the tests' machinery spec, replaced by a value of the wrong type, a
  non-finite number, a negative or huge number, an empty value, a string
  with a trailing newline, or given an unknown key; run through
  ``raygrid validate`` (all of them) and ``raygrid plan`` (a seeded sample);
* data-file mutations: the bundled fixture rows of every task format with a
  bad label, a missing column, non-UTF-8 bytes, a truncated last line, ...;
  read by :func:`raygrid.tasks.load_rows` (and a few by ``raygrid cell``,
  whose preflight refuses them before any training);
* sweep-folder corruptions: ``sweep.json``, ``spec.yaml``, the run manifests
  and the Parquet row files of a sweep folder, read by ``raygrid status``,
  ``resume`` (refused before Ray starts), ``best`` and ``analyze``.

Every command runs in-process (no Ray, no training). For each bad input the
test asserts exit status 2, a stderr of exactly one line starting
``raygrid: error:``, no traceback, and that no file anywhere under the
working folder was created, changed or removed.

Some mutations are legal (a huge ``max_train_examples`` is only a cap, an
empty ``attacks`` list is no attack): those may be accepted, and then must
exit 0 and write nothing either. The mutations that can never be legal (a
non-finite number, an unknown key, a wrong type, a trailing newline, a
negative number, a size beyond a documented limit) must be refused.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from raygrid.cli import main

ROOT = Path(__file__).resolve().parents[1]
BASE_SPECS = [*sorted((ROOT / "search_spaces").glob("*.yaml")), ROOT / "tests" / "e2e" / "machinery.yaml"]
SEED = 20261206

#: Fields with a documented upper bound: a huge value there must be refused.
LIMITED = ("seed", "sampler.seed", "n_trials.*", "confirm.seeds.*", "attacks.*.params.rate", "attacks.*.params.max_fraction")
#: Hyper-parameters with an upper bound (raygrid.spec.PARAMS), fixed or as a
#: distribution's low/high/choices.
LIMITED_PARAMS = ("num_epochs", "batch_size", "grad_accumulation_steps", "max_seq_length", "warmup_ratio", "evals_per_epoch")


# -- running the CLI in-process ------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` and each file's bytes (``None`` for a folder)."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def run_cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    """``main(argv)``: its exit status (argparse's SystemExit included) and stderr."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


def assert_one_line_error(code: int, err: str, what: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, f"{what}: exit {code}, stderr {err!r}"
    assert len(lines) == 1 and lines[0].startswith("raygrid: error: "), f"{what}: {err!r}"
    assert "Traceback" not in err, what


def check_refused_or_accepted(
    capsys: pytest.CaptureFixture[str], argv: list[str], folder: Path, what: str, *, must_fail: bool
) -> int:
    """Runs ``argv``; asserts one-line exit 2 (or exit 0 if allowed) and an unchanged ``folder``."""
    before = snapshot(folder)
    code, err = run_cli(capsys, argv)
    if code == 0 and not must_fail:
        assert err.strip() == "" or "Traceback" not in err, what
    else:
        assert_one_line_error(code, err, what)
    assert snapshot(folder) == before, f"{what}: files changed"
    return code


# -- spec mutations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    base: str
    path: tuple[str | int, ...]
    kind: str
    must_fail: bool
    apply: Callable[[Any], Any]

    @property
    def id(self) -> str:
        where = ".".join(str(p) for p in self.path) or "(top)"
        return f"{Path(self.base).stem}:{where}:{self.kind}"


def _walk(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _walk(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _walk(value, (*path, index))


def _matches(path: tuple[str | int, ...], pattern: str) -> bool:
    parts = pattern.split(".")
    return len(parts) == len(path) and all(p == "*" or p == str(q) for p, q in zip(parts, path))


def _limited(path: tuple[str | int, ...]) -> bool:
    if any(_matches(path, pattern) for pattern in LIMITED):
        return True
    if path[0] != "search_space":
        return False
    # search_space.<stage>.<param>[.low|.high|.choices.<i>], or .per_task.<name>.<param>...
    rest = path[2:] if path[1] != "per_task" else path[3:]
    if not rest or rest[0] not in LIMITED_PARAMS:
        return False
    return len(rest) == 1 or rest[1] in ("low", "high") or (rest[1] == "choices" and len(rest) == 3)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _mutations(base: Path) -> list[Mutation]:
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    out: list[Mutation] = []

    def add(path: tuple[str | int, ...], kind: str, must_fail: bool, value: Any) -> None:
        out.append(Mutation(str(base), path, kind, must_fail, lambda _old, v=value: copy.deepcopy(v)))

    for path, value in _walk(data):
        if not path:
            continue
        # Comments of a distribution's 'type' and the like are schema words: a
        # wrong one is caught, but replacing them is not a field mutation.
        add(path, "non-finite inf", True, float("inf"))
        add(path, "non-finite nan", True, float("nan"))
        if isinstance(value, dict):
            add(path, "wrong type", True, [1])
            add(path, "empty", False, {})
            out.append(
                Mutation(str(base), path, "unknown key", True, lambda old: {**old, "bogus_key": 1})
            )
        elif isinstance(value, list):
            add(path, "wrong type", True, {"bogus": [1]})
            add(path, "empty", False, [])
        else:
            add(path, "wrong type", True, {"bogus": [1]})
            if isinstance(value, str):
                add(path, "trailing newline", True, value + "\n")
                add(path, "empty", path[-1] != "dictionary", "")
            if _is_number(value):
                add(path, "negative", True, -1)
                add(path, "huge", _limited(path), 10**12 if isinstance(value, int) else 1e300)
    return out


ALL_MUTATIONS = [m for base in BASE_SPECS for m in _mutations(base)]


def _set(data: Any, path: tuple[str | int, ...], change: Callable[[Any], Any]) -> Any:
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = change(node[path[-1]])
    return data


def _write_spec(folder: Path, mutation: Mutation) -> Path:
    data = yaml.safe_load(Path(mutation.base).read_text(encoding="utf-8"))
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump(_set(data, mutation.path, mutation.apply), allow_unicode=True), encoding="utf-8")
    return spec


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder: relative storage (``runs/``) resolves inside it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_corpus_is_large_and_covers_every_kind() -> None:
    kinds = {m.kind for m in ALL_MUTATIONS}
    assert kinds >= {"wrong type", "non-finite inf", "non-finite nan", "negative", "huge", "unknown key", "trailing newline", "empty"}
    assert len(ALL_MUTATIONS) > 1000 and len({m.id for m in ALL_MUTATIONS}) == len(ALL_MUTATIONS)


@pytest.mark.parametrize("base", BASE_SPECS, ids=[p.stem for p in BASE_SPECS])
def test_every_spec_mutation_is_one_config_error(base: Path) -> None:
    """Every mutation of every field, through :func:`raygrid.spec.parse_spec`
    (what ``raygrid validate`` runs after reading the YAML): a one-line
    ConfigError naming the field, or a legal spec; never another exception."""
    from raygrid.errors import ConfigError
    from raygrid.spec import parse_spec

    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    refused, failures = 0, []
    for mutation in (m for m in ALL_MUTATIONS if m.base == str(base)):
        bad = _set(data, mutation.path, mutation.apply)
        try:
            parse_spec(bad, source="fuzz.yaml")
        except ConfigError as exc:
            message = str(exc)
            if "\n" in message or not message.startswith("fuzz.yaml: "):
                failures.append(f"{mutation.id}: {message!r}")
            refused += 1
        except Exception as exc:  # noqa: BLE001 - the point: nothing but ConfigError
            failures.append(f"{mutation.id}: {type(exc).__name__}: {exc}")
        else:
            if mutation.must_fail:
                failures.append(f"{mutation.id}: accepted")
    assert not failures, "\n".join(failures)
    assert refused > 100


def _sample(kinds_per_base: int, *, must_fail: bool = False) -> list[Mutation]:
    """A seeded sample: ``kinds_per_base`` mutations of each kind for each base spec."""
    rng = random.Random(SEED)
    out = []
    for base in BASE_SPECS:
        for kind in sorted({m.kind for m in ALL_MUTATIONS}):
            pool = [m for m in ALL_MUTATIONS if m.base == str(base) and m.kind == kind and (m.must_fail or not must_fail)]
            out += rng.sample(pool, min(kinds_per_base, len(pool)))
    return out


def test_spec_mutations_validate(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A seeded sample of every kind of mutation of every base spec, through
    ``raygrid validate``: one line on stderr, exit 2 (or 0 for a legal one),
    nothing written."""
    failures = []
    for mutation in _sample(3):
        spec = _write_spec(workdir, mutation)
        try:
            check_refused_or_accepted(capsys, ["validate", str(spec)], workdir, mutation.id, must_fail=mutation.must_fail)
        except AssertionError as exc:  # every failing mutation at once, not the first only
            failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures)


def test_spec_mutations_plan(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A seeded sample of the mutations that must fail, through ``raygrid plan``."""
    for mutation in _sample(1, must_fail=True):
        spec = _write_spec(workdir, mutation)
        check_refused_or_accepted(capsys, ["plan", str(spec)], workdir, mutation.id, must_fail=True)


def test_absurd_sizes_name_their_limit(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load((ROOT / "search_spaces" / "demo.yaml").read_text(encoding="utf-8"))
    for path, value, limit in (
        (("n_trials", "target"), 10**12, "MAX_TRIALS_PER_CELL"),
        (("confirm", "seeds"), list(range(1_001)), "MAX_CONFIRM_SEEDS"),
    ):
        spec = workdir / "spec.yaml"
        spec.write_text(yaml.safe_dump(_set(data, path, lambda _old, v=value: v)), encoding="utf-8")
        code, err = run_cli(capsys, ["validate", str(spec)])
        assert_one_line_error(code, err, limit)
        assert limit in err
    from raygrid.errors import ConfigError
    from raygrid.spec import parse_spec

    with pytest.raises(ConfigError, match="MAX_CONFIRM_SEEDS"):  # the reported 100k seeds, without the YAML
        parse_spec(_set(data, ("confirm", "seeds"), lambda _old: list(range(100_000))))


# -- CLI options -------------------------------------------------------------------------------------


BAD_OPTIONS: list[list[str]] = [
    ["perturb", "--attack", "char_noise", "--language", "de", "--rate", "nan"],
    ["perturb", "--attack", "char_noise", "--language", "de", "--rate", "inf"],
    ["perturb", "--attack", "char_noise", "--language", "de", "--param", "rate=nan"],
    ["perturb", "--attack", "char_noise", "--language", "de", "--param", "rate=2"],
    ["perturb", "--attack", "char_noise", "--language", "de", "--param", "query_budget=abc"],
    ["perturb", "--attack", "char_noise", "--language", "de", "--param", "ops=bogus"],
    ["perturb", "--attack", "char_noise", "--language", "de", "--param", "bogus=1"],
    ["perturb", "--attack", "char_noise", "--language", "de", "--seed", "-1"],
    ["perturb", "--attack", "char_noise", "--language", "de", "--seed", str(2**40)],
    ["cell", "--model", "m", "--intermediate", "none", "--target", "xnli", "--epochs", "inf"],
    ["cell", "--model", "m", "--intermediate", "none", "--target", "xnli", "--learning-rate", "inf"],
    ["cell", "--model", "m", "--intermediate", "none", "--target", "xnli", "--learning-rate", "nan"],
    ["cell", "--model", "m", "--intermediate", "none", "--target", "xnli", "--epochs", "1e9"],
    ["cell", "--model", "m", "--intermediate", "none", "--target", "xnli", "--batch-size", "0"],
    ["cell", "--model", "m", "--intermediate", "none", "--target", "bucc", "--retrieval-layer", "-1"],
    ["cell", "--model", "m", "--intermediate", "none", "--target", "xnli", "--seed", "1.5"],
    ["analyze", "DIR", "--alpha", "2"],
    ["analyze", "DIR", "--alpha", "nan"],
    ["analyze", "DIR", "--permutations", "-5"],
    ["analyze", "DIR", "--jobs", "0"],
    ["plan", "SPEC", "--throughput", "inf"],
]


@pytest.mark.parametrize("argv", BAD_OPTIONS, ids=[" ".join(a[-2:]) for a in BAD_OPTIONS])
def test_bad_options(argv: list[str], workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("Das Wetter ist heute sonnig.\n"))
    argv = [str(workdir / "sweep") if a == "DIR" else str(ROOT / "search_spaces" / "demo.yaml") if a == "SPEC" else a for a in argv]
    check_refused_or_accepted(capsys, argv, workdir, " ".join(argv), must_fail=True)


def test_perturb_param_takes_the_recipes_types(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("Das Wetter ist heute sonnig und warm.\n"))
    argv = ["perturb", "--attack", "char_noise", "--language", "de", "--param", "rate=0.5", "--param", "ops=swap"]
    assert main(argv) == 0
    out = capsys.readouterr().out.strip()
    assert out and out != "Das Wetter ist heute sonnig und warm."


# -- data-file mutations ------------------------------------------------------------------------------

#: One bundled file per task format: (task, split, language).
DATA_FILES = [
    ("xnli", "dev", "de"),  # pair classification, 3 labels
    ("pawsx", "dev", "de"),  # pair classification, 2 labels
    ("panx", "dev", "de"),  # tagging
    ("xquad", "test", "de"),  # span QA
    ("commonsenseqa", "dev", "en"),  # multiple choice
]

BAD_LABELS: list[Any] = ["²", "--1", "1.5", "", " ", "entailment\n", 1.5, -1, 99, True, None, [1], {"a": 1}, "٣"]


def _label_field(row: dict[str, Any]) -> str | None:
    for name in ("label", "answerKey", "ner_tags"):
        if name in row:
            return name
    return None


def _data_mutations() -> list[tuple[str, Callable[..., bytes]]]:
    """(name, (lines, a required column) -> file bytes) for a jsonl file given as its lines."""
    out: list[tuple[str, Callable[..., bytes]]] = []

    def relabel(value: Any) -> Callable[..., bytes]:
        def change(lines: list[str], column: str) -> bytes:
            row = json.loads(lines[0])
            field = _label_field(row)
            if field == "ner_tags":
                row[field] = [value, *row[field][1:]]
            elif field is not None:
                row[field] = value
            else:  # span QA: the answer start
                row["answers"] = {"text": ["x"], "answer_start": [value]}
            return "\n".join([json.dumps(row, ensure_ascii=False), *lines[1:]]).encode()

        return change

    for value in BAD_LABELS:
        out.append((f"label {value!r}", relabel(value)))
    out.append(("missing column", lambda lines, column: "\n".join(
        json.dumps({k: v for k, v in json.loads(l).items() if k != column}) for l in lines).encode()))
    out.append(("not UTF-8", lambda lines, column: "\n".join(lines).encode() + b"\n{\"x\": \"\xff\xfe\"}\n"))
    out.append(("truncated last line", lambda lines, column: "\n".join(lines).encode()[:-7]))
    out.append(("a JSON array line", lambda lines, column: "\n".join([*lines, "[1, 2]"]).encode()))
    out.append(("empty file", lambda lines, column: b""))
    out.append(("only blank lines", lambda lines, column: b"\n\n  \n"))
    out.append(("text as a number", lambda lines, column: "\n".join(
        json.dumps({k: (7 if k == column else v) for k, v in json.loads(l).items()}) for l in lines).encode()))
    return out


DATA_MUTATIONS = _data_mutations()


@pytest.mark.parametrize(("task", "split", "language"), DATA_FILES, ids=[t for t, _, _ in DATA_FILES])
def test_data_file_mutations(task: str, split: str, language: str, tmp_path: Path) -> None:
    """``load_rows`` over each mutated copy of a bundled file: one-line DataError, file untouched."""
    from raygrid.errors import DataError
    from raygrid.tasks import DataSources, get_task, load_rows
    from raygrid.tasks.sources import fixture_path

    lines = [l for l in fixture_path(task, split, language).read_text(encoding="utf-8").splitlines() if l.strip()]
    sources = DataSources(local_dirs=(tmp_path,))
    target = tmp_path / task / f"{split}.{language}.jsonl"
    target.parent.mkdir(parents=True)
    refused = 0
    for name, change in DATA_MUTATIONS:
        column = get_task(task).columns[0] if name == "missing column" else _text_column(task, lines[0])
        target.write_bytes(change(lines, column))
        before = snapshot(tmp_path)
        try:
            load_rows(task, split, language, sources)
        except DataError as exc:
            message = str(exc)
            assert "\n" not in message and str(target) in message, f"{task} {name}: {message!r}"
            refused += 1
        else:
            # Legal only where the mutation did not reach a checked field
            # (e.g. a tagging label list given a name the task has).
            assert name.startswith("label"), f"{task} {name}: accepted"
        assert snapshot(tmp_path) == before
    assert refused >= len(DATA_MUTATIONS) - 3


def _text_column(task: str, line: str) -> str:
    """A required column holding text (not an id, whose type is free)."""
    from raygrid.tasks import get_task

    row = json.loads(line)
    return next(c for c in get_task(task).columns if c != "id" and isinstance(row.get(c), (str, list)))


def test_bad_training_file_fails_cell_before_training(
    tiny_model_dir: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``raygrid cell`` refuses a bad local training file in its preflight: nothing written."""
    data = workdir / "data"
    (data / "mnli").mkdir(parents=True)
    good = fixture_lines("mnli", "train", "en")
    out = workdir / "out"
    for name, change in DATA_MUTATIONS[:2] + DATA_MUTATIONS[-7:-3]:
        (data / "mnli" / "train.en.jsonl").write_bytes(change(good, "premise"))
        argv = [
            "cell", "--model", str(tiny_model_dir), "--intermediate", "none", "--target", "xnli", "--languages", "de",
            "--data", "bundled", "--data-dir", str(data), "--output", str(out),
        ]
        check_refused_or_accepted(capsys, argv, workdir, f"cell {name}", must_fail=True)
    # --output naming a file: refused before the model or any data is touched
    (workdir / "a-file").write_text("x")
    argv = ["cell", "--model", str(tiny_model_dir), "--intermediate", "none", "--target", "xnli", "--data", "bundled",
            "--output", str(workdir / "a-file")]
    check_refused_or_accepted(capsys, argv, workdir, "cell --output a file", must_fail=True)


def fixture_lines(task: str, split: str, language: str) -> list[str]:
    from raygrid.tasks.sources import fixture_path

    return [l for l in fixture_path(task, split, language).read_text(encoding="utf-8").splitlines() if l.strip()]


# -- sweep-folder corruptions --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep folder as ``raygrid run`` leaves it (sweep.json, spec.yaml, the
    Optuna journal) with synthetic results, on which status, best and analyze
    succeed."""
    import pandas as pd

    from analysis.synthetic import confirm_rows, trial_rows, write_sweep_dir
    from raygrid.spec import parse_spec

    root = tmp_path_factory.mktemp("sweeps")
    spec = parse_spec(
        {
            "name": "fuzz",
            "model": {"name_or_path": "tiny"},
            "data": {"source": "bundled"},
            "intermediates": ["none", "mnli"],
            "targets": [{"task": "xnli", "languages": ["de", "en"]}],
            "confirm": {"seeds": [0, 1]},
            "storage": str(root),
        }
    )
    rows = confirm_rows(languages=("de", "en"), intermediates=("none", "mnli"), seeds=2, rng=1)
    folder = write_sweep_dir(
        root / "fuzz", pd.concat([rows, trial_rows(intermediates=("none", "mnli"))]),
        spec_text=yaml.safe_dump(spec.normalised()),
    )
    (folder / "sweep.json").write_text(json.dumps({"fingerprint": spec.fingerprint(), "spec": spec.normalised()}))
    (folder / "optuna.journal").write_text("")
    # The intact folder passes, so each corruption below is what fails.
    assert main(["status", str(folder)]) == 0
    assert main(["best", str(folder), "--target", "xnli"]) == 0
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path} has no {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def _row_file(folder: Path) -> Path:
    return sorted((folder / "results").rglob("*.parquet"))[0]


def _manifest(folder: Path) -> Path:
    return sorted((folder / "results" / "_runs").glob("*.json"))[0]


CORRUPTIONS: list[tuple[str, Callable[[Path], None], tuple[str, ...]]] = [
    ("sweep.json {}", lambda f: (f / "sweep.json").write_text("{}"), ("status", "resume")),
    ("sweep.json []", lambda f: (f / "sweep.json").write_text("[]"), ("status", "resume")),
    ("sweep.json garbage", lambda f: (f / "sweep.json").write_text("{not json"), ("status", "resume")),
    ("sweep.json not UTF-8", lambda f: (f / "sweep.json").write_bytes(b"\xff\xfe{}"), ("status", "resume")),
    ("sweep.json spec a list", lambda f: (f / "sweep.json").write_text('{"spec": [1]}'), ("status", "resume")),
    ("sweep.json spec empty", lambda f: (f / "sweep.json").write_text('{"spec": {}}'), ("status", "resume")),
    ("sweep.json spec inf", lambda f: (f / "sweep.json").write_text(
        (f / "sweep.json").read_text().replace('"seed": 0', '"seed": Infinity', 1)), ("status", "resume")),
    ("sweep.json missing", lambda f: (f / "sweep.json").unlink(), ("status", "resume")),
    ("spec.yaml edited", lambda f: _edit(f / "spec.yaml", "\nseed: 0\n", "\nseed: 1\n"), ("resume",)),
    ("spec.yaml garbage", lambda f: (f / "spec.yaml").write_text("{: ["), ("resume",)),
    ("row file truncated", lambda f: _row_file(f).write_bytes(_row_file(f).read_bytes()[:100]), ("best", "analyze")),
    ("row file zero bytes", lambda f: _row_file(f).write_bytes(b""), ("best", "analyze")),
    ("row file not parquet", lambda f: _row_file(f).write_text("hello"), ("best", "analyze")),
    ("row file missing", lambda f: _row_file(f).unlink(), ("best", "analyze")),
    ("manifest garbage", lambda f: _manifest(f).write_text("{torn"), ("best", "analyze")),
    ("manifest a list", lambda f: _manifest(f).write_text("[]"), ("best", "analyze")),
    ("manifest files not a list", lambda f: _manifest(f).write_text('{"files": "x"}'), ("best", "analyze")),
    ("spec.yaml missing", lambda f: (f / "spec.yaml").unlink(), ("best", "analyze", "resume")),
    ("results missing", lambda f: __import__("shutil").rmtree(f / "results"), ("best", "analyze")),
]


def _argv(command: str, folder: Path, workdir: Path) -> list[str]:
    if command == "best":
        return ["best", str(folder), "--target", "xnli"]
    if command == "analyze":
        return ["analyze", str(folder), "--out", str(workdir / "report"), "--permutations", "50", "--jobs", "1"]
    return [command, str(folder)]


@pytest.mark.parametrize(("name", "corrupt", "commands"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_sweep_folder_corruptions(
    name: str,
    corrupt: Callable[[Path], None],
    commands: tuple[str, ...],
    sweep_folder: Path,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil

    def no_sweep(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"{name}: resume went on to run the sweep")

    monkeypatch.setattr("raygrid.sweep.driver.run_sweep", no_sweep)  # never Ray, whatever happens
    folder = workdir / "fuzz"
    shutil.copytree(sweep_folder, folder)
    corrupt(folder)
    for command in commands:
        check_refused_or_accepted(capsys, _argv(command, folder, workdir), workdir, f"{command} {name}", must_fail=True)


def test_a_run_with_a_missing_row_file_is_not_done(sweep_folder: Path, tmp_path: Path) -> None:
    """The writer's side of a damaged run: ``is_done`` says redo it (existence check only)."""
    import shutil

    from raygrid.store import is_done

    folder = tmp_path / "fuzz"
    shutil.copytree(sweep_folder, folder)
    results = folder / "results"
    first, second = sorted(p.stem for p in (results / "_runs").glob("*.json"))[:2]
    assert is_done(results, first) and is_done(results, second)
    next(results.glob(f"target=*/language=*/{first}.parquet")).unlink()
    assert not is_done(results, first)
    (results / "_runs" / f"{second}.json").write_text("{torn")
    assert not is_done(results, second)
