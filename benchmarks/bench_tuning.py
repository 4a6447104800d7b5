"""The default Optuna study on an NTSB export: fold preparation, trials per minute, share pruned.

    python benchmarks/bench_tuning.py [path/to/AviationData.csv] [--trials 100] [--folds 4] [--study pruner=hyperband ...]

Uses the project's own parameters as `kedro run --env ntsb` reads them (conf/base with conf/ntsb's budgets), the time split of feature_engineering, and a
throw-away SQLite storage. Prints the time to assign folds and compute in-fold features, the
study's wall time, trials per minute, the share of trials pruned, and the best spatial-CV
ROC-AUC with its parameters.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from bench_backtest import parameters as ntsb_parameters

from severity.data.ingest import parse_events
from severity.data.split import split_by_time
from severity.data.target import label_events
from severity.features import FeatureSettings
from severity.parameters import validate
from severity.tuning.folds import CrossValidationSettings, assign_folds, build_folds
from severity.tuning.objective import spatial_cv_objective
from severity.tuning.study import StudySettings, open_study, run_trials, trials_table

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_EXPORT = PROJECT.parent / "shared" / "data" / "ntsb" / "AviationData.csv"


def parameters(name: str) -> dict:
    """The ``name`` block as ``kedro run --env ntsb`` reads it (the real export's budgets)."""
    return ntsb_parameters(name)[name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", nargs="?", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--trials", type=int, help="override tuning.study.n_trials")
    parser.add_argument("--folds", type=int, help="override tuning.cross_validation.n_splits")
    parser.add_argument(
        "--study", action="append", default=[], metavar="KEY=VALUE", help="override tuning.study.KEY (YAML value)"
    )
    parser.add_argument("--trials-csv", type=Path, help="write the trials table here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tuning, features, modelling = parameters("tuning"), parameters("feature_engineering"), parameters("modelling")
    if args.folds:
        tuning["cross_validation"]["n_splits"] = args.folds
    for assignment_text in args.study:
        key, _, value = assignment_text.partition("=")
        tuning["study"][key] = yaml.safe_load(value)

    raw = pd.read_csv(args.export, dtype=str, keep_default_na=False)
    labelled, _ = label_events(parse_events(raw)[0])
    split = features["split"]
    train, _, _, _ = split_by_time(labelled, split["validation_start"], split["test_start"])

    start = time.perf_counter()
    assignment = assign_folds(
        train, validate(CrossValidationSettings, tuning["cross_validation"], "tuning.cross_validation")
    )
    assigned = time.perf_counter() - start
    folds = build_folds(
        train,
        assignment,
        "spatial",
        validate(FeatureSettings, features["features"], "feature_engineering.features"),
        n_jobs=tuning["n_jobs"],
    )
    prepared = time.perf_counter() - start - assigned

    with tempfile.TemporaryDirectory() as folder:
        study_parameters = {**tuning["study"], "storage": f"sqlite:///{folder}/optuna.db", "show_progress_bar": True}
        if args.trials:
            study_parameters["n_trials"] = args.trials
        settings = validate(StudySettings, study_parameters, "tuning.study")
        study = open_study(settings, "benchmark", create=True)
        objective = spatial_cv_objective(
            folds, settings, modelling["shipped_variant"], modelling["random_state"], modelling["n_jobs"]
        )
        report = run_trials(study, objective, settings.timeout_seconds, settings.show_progress_bar)
        best = study.best_trial
        trials = trials_table(study)
        if args.trials_csv:
            trials.to_csv(args.trials_csv, index=False)

    minutes = report["seconds"] / 60
    pruned = report["states"].get("PRUNED", 0)
    print(f"export: {args.export.name}; {os.cpu_count()} cores; training split {len(train):,} rows")
    print(
        f"fold assignment (random, spatial, temporal): {assigned:.1f} s; in-fold features for {len(folds)} spatial folds: {prepared:.1f} s"
    )
    print(
        f"study ({settings.family}, {settings.pruner} pruner): {report['trials']} trials in {minutes:.1f} min "
        f"({report['trials'] / minutes:.1f} trials/min); pruned {pruned} ({pruned / report['trials']:.0%}); states {report['states']}"
    )
    seconds = trials.groupby("state")["seconds"].median()
    print(f"seconds per trial, median: {', '.join(f'{state.lower()} {value:.1f}' for state, value in seconds.items())}")
    print(
        f"best trial {best.number}: spatial-CV ROC-AUC {best.value:.4f}; folds {[round(v, 4) for v in best.user_attrs['fold_roc_auc']]}"
    )
    print(f"best parameters: { {k: round(v, 5) if isinstance(v, float) else v for k, v in best.params.items()} }")


if __name__ == "__main__":
    main()
