"""The Optuna study: search spaces, storage, a fixed trial budget shared by any number of workers, pruning.

A study holds exactly ``n_trials`` trials however many workers take part: the process
that creates it enqueues that many waiting trials ("slots"), and every worker claims
slots one at a time with the storage's atomic WAITING -> RUNNING transition until none
are left. (``MaxTrialsCallback`` checks the count after a trial ends, so concurrent
workers can overshoot it.) Storage is any Optuna storage URL: a local SQLite file by
default, a PostgreSQL database for workers on several machines.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState
from pydantic import field_validator
from sqlalchemy.engine import make_url
from tqdm.auto import tqdm

from severity.parameters import SettingsModel

logger = logging.getLogger(__name__)
TUNED_FAMILIES = ("xgboost", "lightgbm")
# Histogram bins: fewer than XGBoost's default 256 make each tree cheaper on the export's spatial folds
# (BENCHMARKS.md, Tuning). Fixed, not searched: the fold matrices are built once for all trials.
XGBOOST_MAX_BIN = 64
PRUNERS = ("median", "hyperband", "none")


def suggest_xgboost(trial: optuna.Trial, max_trees: int, early_stopping_rounds: int) -> dict[str, Any]:
    return {
        "n_estimators": max_trees,
        "early_stopping_rounds": early_stopping_rounds,
        "max_bin": XGBOOST_MAX_BIN,
        # Learning rates from 0.05: lower rates can need a fold's whole tree budget, and the trials' time with it.
        # Column samples from 0.2: low enough that the range's floor does not bind the search, and fewer columns
        # cost less (BENCHMARKS.md, Tuning).
        "learning_rate": trial.suggest_float("learning_rate", 0.05, 0.3, log=True),
        "max_depth": trial.suggest_int("max_depth", 3, 8),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.2, 1.0),
        "gamma": trial.suggest_float("gamma", 1e-8, 5.0, log=True),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 30.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def suggest_lightgbm(trial: optuna.Trial, max_trees: int, early_stopping_rounds: int) -> dict[str, Any]:
    return {
        "n_estimators": max_trees,
        "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 8, 256, log=True),
        "max_depth": trial.suggest_int("max_depth", 3, 12),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
        "min_split_gain": trial.suggest_float("min_split_gain", 1e-8, 1.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


SEARCH_SPACES: dict[str, Callable[[optuna.Trial, int, int], dict[str, Any]]] = {
    "xgboost": suggest_xgboost,
    "lightgbm": suggest_lightgbm,
}


def hyperparameters_from(
    family: str, best_params: dict[str, Any], max_trees: int, early_stopping_rounds: int
) -> dict[str, Any]:
    """The full hyper-parameters of a trial's sampled values (fixed ones added back), for a refit."""
    fixed = optuna.trial.FixedTrial(best_params)
    return SEARCH_SPACES[family](fixed, max_trees, early_stopping_rounds)


class StudySettings(SettingsModel):
    """``tuning.study`` in ``parameters_tuning.yml``."""

    family: str
    storage: str
    study_name: str | None  # null: severity-<family>-<training data fingerprint>
    n_trials: int
    timeout_seconds: float | None
    seed: int
    pruner: str
    pruner_startup_trials: int
    max_trees: int
    early_stopping_rounds: int
    holdout_share: float
    show_progress_bar: bool

    @field_validator("family")
    @classmethod
    def _known_family(cls, family: str) -> str:
        if family not in TUNED_FAMILIES:
            raise ValueError(f"must be one of {TUNED_FAMILIES}, got {family!r}")
        return family

    @field_validator("pruner")
    @classmethod
    def _known_pruner(cls, pruner: str) -> str:
        if pruner not in PRUNERS:
            raise ValueError(f"must be one of {PRUNERS}, got {pruner!r}")
        return pruner

    @field_validator("n_trials")
    @classmethod
    def _some_trials(cls, n_trials: int) -> int:
        if n_trials < 1:
            raise ValueError(f"must be at least 1, got {n_trials}")
        return n_trials

    def name_for(self, data_fingerprint: str) -> str:
        """The study name: as configured, else one per family and training data, so workers on the same data agree."""
        return self.study_name or f"severity-{self.family}-{data_fingerprint[:12]}"


def shown_storage(url: str) -> str:
    """A storage URL safe to log: any password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a SQLAlchemy URL (a journal file path, say): nothing secret in it
        return url


def _pruner(settings: StudySettings) -> optuna.pruners.BasePruner:
    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=settings.pruner_startup_trials, n_warmup_steps=0)
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto", reduction_factor=3)
    return optuna.pruners.NopPruner()


def _storage(url: str) -> optuna.storages.RDBStorage:
    if url.startswith("sqlite:///"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.RDBStorage(url)


def open_study(settings: StudySettings, study_name: str, create: bool) -> optuna.Study:
    """Load the study; with ``create``, create it if needed and top its slots up to ``n_trials``.

    Only the process that owns the study creates it (the ``tuning`` pipeline); extra workers
    open it with ``create=False`` and fail clearly if it does not exist yet.
    """
    storage = _storage(settings.storage)
    sampler = optuna.samplers.TPESampler(seed=settings.seed)
    if not create:
        try:
            return optuna.load_study(study_name=study_name, storage=storage, sampler=sampler, pruner=_pruner(settings))
        except KeyError:
            raise ValueError(
                f"No study {study_name!r} in {shown_storage(settings.storage)}: start the `tuning` pipeline first, "
                "then the workers"
            ) from None
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="maximize",
        load_if_exists=True,
        sampler=sampler,
        pruner=_pruner(settings),
    )
    study.set_user_attr("family", settings.family)
    existing = study.get_trials(deepcopy=False)
    stuck = [t.number for t in existing if t.state == TrialState.RUNNING]
    if stuck:
        logger.warning("Study %s has trial(s) %s still RUNNING from an earlier, interrupted worker", study_name, stuck)
    for _ in range(settings.n_trials - len(existing)):
        study.enqueue_trial({}, skip_if_exists=False)
    logger.info(
        "Study %s in %s: %d trial(s) in all, %d waiting",
        study_name,
        shown_storage(settings.storage),
        max(settings.n_trials, len(existing)),
        len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,))),
    )
    return study


def _claim(study: optuna.Study) -> optuna.Trial | None:
    """Take one waiting trial for this process (the storage makes WAITING -> RUNNING atomic), or None when none are left."""
    storage = study._storage  # the study's own (cached) storage, as optuna.Trial uses it: its cache must see the claim
    study_id = storage.get_study_id_from_name(study.study_name)
    for waiting in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, waiting.number)
        try:
            if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                return optuna.Trial(study, trial_id)
        except UpdateFinishedTrialError:
            continue  # another worker claimed and finished it in the meantime
    return None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_trials(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    timeout_seconds: float | None = None,
    show_progress_bar: bool = True,
) -> dict[str, Any]:
    """Claim and run the study's waiting trials until none are left (or the time budget is spent).

    A pruned trial is told as PRUNED with its last reported value; an error in the
    objective fails the trial and stops this worker, with the error.
    """
    started = time.perf_counter()
    waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    states: dict[str, int] = {}
    worker = worker_name()
    progress = tqdm(total=waiting, desc=f"Optuna {study.study_name}", unit="trial", disable=not show_progress_bar)
    try:
        while timeout_seconds is None or time.perf_counter() - started < timeout_seconds:
            trial = _claim(study)
            if trial is None:
                break
            trial.set_user_attr("worker", worker)
            try:
                value = objective(trial)
                study.tell(trial, value)
                state = TrialState.COMPLETE
            except optuna.TrialPruned:
                study.tell(trial, state=TrialState.PRUNED)
                state = TrialState.PRUNED
            except BaseException:
                study.tell(trial, state=TrialState.FAIL)
                raise
            states[state.name] = states.get(state.name, 0) + 1
            progress.update(1)
            best = _best_value(study)
            progress.set_postfix(best=f"{best:.4f}" if best is not None else "-", pruned=states.get("PRUNED", 0))
    finally:
        progress.close()
    seconds = time.perf_counter() - started
    ran = sum(states.values())
    logger.info("Worker %s ran %d trial(s) in %.1f s: %s", worker, ran, seconds, states)
    return {
        "worker": worker,
        "trials": ran,
        "states": states,
        "seconds": seconds,
        "timed_out": bool(timeout_seconds is not None and seconds >= timeout_seconds),
    }


def _best_value(study: optuna.Study) -> float | None:
    try:
        return study.best_value
    except ValueError:  # no completed trial yet
        return None


def trials_table(study: optuna.Study) -> Any:
    """One row per trial: number, state, value, worker, duration, sampled parameters and per-fold scores."""
    import pandas as pd

    rows = []
    for trial in study.get_trials(deepcopy=False):
        duration = (
            (trial.datetime_complete - trial.datetime_start).total_seconds()
            if trial.datetime_complete and trial.datetime_start
            else None
        )
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                "worker": trial.user_attrs.get("worker"),
                "seconds": duration,
                "folds_run": len(trial.intermediate_values),
                **{f"param_{k}": v for k, v in trial.params.items()},
                "fold_roc_auc": trial.user_attrs.get("fold_roc_auc"),
                "fold_pr_auc": trial.user_attrs.get("fold_pr_auc"),
                "trees": trial.user_attrs.get("trees"),
            }
        )
    return pd.DataFrame(rows)
