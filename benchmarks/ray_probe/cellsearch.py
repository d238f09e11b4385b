"""A Tune searcher that multiplexes one Optuna study per cell (ask/tell + JournalStorage),
and a FIFO scheduler that stops a trial when its cell's Optuna pruner says so.

Used by probe_cell_searcher.py and probe_driver_kill.py. Runs on the driver only
(searchers and schedulers never travel to workers), so importing it from the probe
folder is fine; the trial functions live in the probe scripts.
"""

from __future__ import annotations

import math
import os
import pickle
from dataclasses import dataclass, field

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import ConcurrencyLimiter, Searcher

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class CellPlan:
    name: str
    budget: int  # trials to finish (COMPLETE or PRUNED) in this cell's study
    space: dict  # name -> (low, high) floats, log scale
    parent: str | None = None  # a cell that must be finished first
    seed: int = 0


@dataclass
class _Live:
    cell: str
    trial_id: int  # Optuna storage id (not the number)
    number: int
    last_step: int = -1
    pruned: bool = False


class CellSearcher(Searcher):
    """One Optuna study per cell, all in one journal file.

    suggest() returns a config, None (nothing to hand out now: a parent cell is
    still running, or every budget is handed out but not finished), or
    Searcher.FINISHED (every cell's budget finished, counted from the journal).
    """

    def __init__(self, journal: str, cells: list[CellPlan], metric: str, mode: str = "max"):
        super().__init__(metric=metric, mode=mode)
        self.journal = os.path.abspath(journal)
        self.cells = {c.name: c for c in cells}
        self.live: dict[str, _Live] = {}  # Tune trial id -> Optuna trial
        self.finished_tune_ids: set[str] = set()
        self._open()

    # --- Optuna handles: never pickled, reopened from the journal -------------------
    def _open(self) -> None:
        storage = JournalStorage(JournalFileBackend(self.journal))
        direction = "maximize" if self.mode == "max" else "minimize"
        self._studies = {
            name: optuna.create_study(
                study_name=name, storage=storage, direction=direction, load_if_exists=True,
                sampler=optuna.samplers.TPESampler(seed=plan.seed, n_startup_trials=2),
                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
            )
            for name, plan in self.cells.items()
        }

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_studies", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._open()

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__getstate__(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.__setstate__(pickle.load(f))
        self.fail_orphans()

    def fail_orphans(self) -> list[int]:
        """Optuna trials left RUNNING with no live Tune trial (driver killed between
        ask() and Tune's next experiment checkpoint): mark them FAIL."""
        known = {(lv.cell, lv.number) for lv in self.live.values()}
        failed = []
        for name, study in self._studies.items():
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if (name, t.number) not in known:
                    study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
                    failed.append(t.number)
        return failed

    # --- budgets, counted from the journal (the source of truth) ---------------------
    def _counts(self, name: str) -> tuple[int, int]:
        trials = self._studies[name].get_trials(deepcopy=False)
        done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
        running = sum(t.state is TrialState.RUNNING for t in trials)
        return done, running

    def cell_finished(self, name: str) -> bool:
        return self._counts(name)[0] >= self.cells[name].budget

    # --- Tune API --------------------------------------------------------------------
    def suggest(self, trial_id: str):
        if all(self.cell_finished(n) for n in self.cells):
            return Searcher.FINISHED
        for name, plan in self.cells.items():
            if plan.parent is not None and not self.cell_finished(plan.parent):
                continue  # dependent cell waits for its parent
            done, running = self._counts(name)
            if done + running >= plan.budget:
                continue
            study = self._studies[name]
            trial = study.ask()
            params = {k: trial.suggest_float(k, lo, hi, log=True) for k, (lo, hi) in plan.space.items()}
            parent_best = None
            if plan.parent is not None:
                parent_best = self._studies[plan.parent].best_trial.params
            trial.set_user_attr("tune_trial_id", trial_id)
            self.live[trial_id] = _Live(name, trial._trial_id, trial.number)
            return {"cell": name, "optuna_number": trial.number, "parent_best": parent_best, **params}
        return None  # Tune asks again shortly

    def observe(self, trial_id: str, result: dict) -> bool:
        """Reports an intermediate value to the cell's study; True = prune."""
        lv = self.live.get(trial_id)
        value = result.get(self.metric)
        step = result.get("training_iteration")
        if lv is None or value is None or step is None or step <= lv.last_step:
            return lv is not None and lv.pruned
        study = self._studies[lv.cell]
        trial = optuna.trial.Trial(study, lv.trial_id)  # rebuilt: works after a restore too
        trial.report(float(value), int(step))
        lv.last_step = int(step)
        lv.pruned = trial.should_prune()
        return lv.pruned

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.observe(trial_id, result)  # idempotent: the scheduler usually did it already

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        lv = self.live.pop(trial_id, None)
        if lv is None:  # unknown or second result: ignore
            return
        self.finished_tune_ids.add(trial_id)
        study = self._studies[lv.cell]
        value = None if result is None else result.get(self.metric)
        if lv.pruned:
            state, values = TrialState.PRUNED, None
        elif error or value is None or not math.isfinite(float(value)):
            state, values = TrialState.FAIL, None
        else:
            state, values = TrialState.COMPLETE, float(value)
        study.tell(lv.number, values, state=state, skip_if_finished=True)

    def summary(self) -> dict:
        out = {}
        for name, study in self._studies.items():
            states = [t.state.name for t in study.get_trials(deepcopy=False)]
            out[name] = {s: states.count(s) for s in sorted(set(states))}
        return out


def find_cell_searcher(search_alg) -> CellSearcher | None:
    """Unwraps Tune's SearchGenerator / ConcurrencyLimiter."""
    obj = search_alg
    for _ in range(4):
        if isinstance(obj, CellSearcher):
            return obj
        obj = getattr(obj, "searcher", None)
    return None


class CellPruningScheduler(FIFOScheduler):
    """FIFO order; STOP when the trial's cell pruner says so.

    Tune calls the scheduler BEFORE the searcher for each result, and a STOP result
    never reaches the searcher's on_trial_result: so the scheduler reports the value
    through the searcher (found at call time via tune_controller.search_alg, so no
    reference is pickled and restore keeps working).
    """

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        searcher = find_cell_searcher(tune_controller.search_alg)
        if searcher is not None and searcher.observe(trial.trial_id, result):
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE
