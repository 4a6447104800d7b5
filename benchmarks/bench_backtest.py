"""Rolling-origin backtest of the shipping protocol on an NTSB export, beside the evaluation protocol.

    python benchmarks/bench_backtest.py [path/to/AviationData.csv] [--candidate lightgbm] [--output DIR]

Fits the candidate exactly as `modelling` does (its block of conf/base/parameters_modelling.yml,
training split, early stopping on validation), then runs the `backtest` pipeline's library code
with conf/base/parameters_backtest.yml and conf/ntsb's budgets for the real export: at each origin the whole protocol (features, refit,
out-of-time calibration) is fitted on every earlier labelled event and scores the next months.
Prints the table (both variants, both protocols, per origin and pooled, event-grouped 95%
intervals) and the wall time; with --output also writes the table and per-event predictions.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from severity.data.ingest import parse_events
from severity.data.split import split_by_time
from severity.data.target import label_events
from severity.evaluation.backtest import (
    backtest_predictions,
    backtest_table,
    markdown_table,
    shipped_and_evaluation_protocols,
)
from severity.features import AviationFeatureEngineer
from severity.models.training import train_candidate
from severity.parameters import validate
from severity.pipelines.parameters import (
    BacktestSettings,
    CandidateSettings,
    FeatureEngineeringParameters,
    ModellingParameters,
)

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_EXPORT = PROJECT.parent / "shared" / "data" / "ntsb" / "AviationData.csv"


def parameters(name: str) -> dict:
    """The ``parameters_<name>.yml`` blocks as ``kedro run --env ntsb`` reads them: conf/base with conf/ntsb's budgets
    for the real export (four backtest origins, a 12-month calibration period)."""
    from kedro.config import OmegaConfigLoader

    from severity.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(str(PROJECT / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": "ntsb"})
    merged = loader["parameters"]
    own = yaml.safe_load((PROJECT / "conf" / "base" / f"parameters_{name}.yml").read_text())
    return {key: merged[key] for key in own}


@dataclass
class PreparedExport:
    """An export read, labelled and split as `training` does it, with the parameters and the training split's features."""

    features: FeatureEngineeringParameters
    blocks: dict  # parameters_modelling.yml's blocks (the candidates' settings)
    modelling: ModellingParameters
    backtest: BacktestSettings
    labelled: pd.DataFrame
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    engineer: AviationFeatureEngineer  # fitted on the training split, validation and test as history
    train_input: pd.DataFrame
    validation_input: pd.DataFrame


def prepare(export: Path) -> PreparedExport:
    """Read, label and split ``export``; fit the transformer on the training split as `feature_engineering` does."""
    features = validate(
        FeatureEngineeringParameters, parameters("feature_engineering")["feature_engineering"], "feature_engineering"
    )
    blocks = parameters("modelling")
    raw = pd.read_csv(export, dtype=str, keep_default_na=False)
    labelled, _ = label_events(parse_events(raw)[0])
    train, validation, test, _ = split_by_time(labelled, features.split.validation_start, features.split.test_start)
    engineer = AviationFeatureEngineer(features.features)
    train_input = engineer.fit_transform(train, train["fatal"]).assign(fatal=train["fatal"].to_numpy())
    engineer.add_history(pd.concat([validation, test]))
    validation_input = engineer.transform(validation).assign(fatal=validation["fatal"].to_numpy())
    return PreparedExport(
        features,
        blocks,
        validate(ModellingParameters, blocks["modelling"], "modelling"),
        validate(BacktestSettings, parameters("backtest")["backtest"], "backtest"),
        labelled,
        train,
        validation,
        test,
        engineer,
        train_input,
        validation_input,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", nargs="?", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument(
        "--candidate", default="lightgbm", help="a candidate block of parameters_modelling.yml (default: lightgbm)"
    )
    parser.add_argument(
        "--output", type=Path, help="write backtest.csv, backtest.md and backtest_predictions.parquet here"
    )
    args = parser.parse_args()
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    started = time.perf_counter()

    prepared_export = prepare(args.export)
    modelling_parameters, modelling = prepared_export.blocks, prepared_export.modelling
    backtest, shipping = prepared_export.backtest, prepared_export.modelling.shipping
    labelled, feature_settings = prepared_export.labelled, prepared_export.features.features
    train, validation, test = prepared_export.train, prepared_export.validation, prepared_export.test
    train_input, validation_input = prepared_export.train_input, prepared_export.validation_input
    engineer = prepared_export.engineer
    settings = validate(
        CandidateSettings, modelling_parameters[args.candidate]["settings"], f"{args.candidate}.settings"
    )
    fitted = train_candidate(
        args.candidate,
        settings.as_dict(),
        train_input,
        validation_input,
        engineer.feature_names_out_,
        modelling.variants,
        modelling.random_state,
        modelling.n_jobs,
    )
    templates = {variant: candidate.estimator for variant, candidate in fitted.items()}
    prepared = time.perf_counter()

    events = pd.concat([train, validation, test], ignore_index=True)
    predictions = backtest_predictions(
        events,
        templates,
        shipped_and_evaluation_protocols(shipping, backtest.validation_months),
        list(backtest.origins),
        backtest.horizon_months,
        feature_settings,
        modelling.policy.model_dump(),
        len(train),
        modelling.n_jobs,
        modelling.random_state,
    )
    fitted_at = time.perf_counter()
    table = backtest_table(predictions, backtest.bootstrap_samples, backtest.seed)
    finished = time.perf_counter()

    report = print  # the benchmark's output is its figures
    report(
        f"\nexport: {args.export} ({len(labelled):,} labelled rows); candidate: {args.candidate}; shipping: {shipping}"
    )
    report(
        f"origins: {backtest.origins}, horizon {backtest.horizon_months} months, {backtest.bootstrap_samples} event resamples\n"
    )
    report(markdown_table(table))
    report(
        f"\nwall time: candidate {prepared - started:.0f} s, protocols at every origin {fitted_at - prepared:.0f} s, "
        f"intervals {finished - fitted_at:.0f} s; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"
    )
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.output / "backtest.csv", index=False)
        (args.output / "backtest.md").write_text(markdown_table(table) + "\n")
        predictions.to_parquet(args.output / "backtest_predictions.parquet")


if __name__ == "__main__":
    main()
