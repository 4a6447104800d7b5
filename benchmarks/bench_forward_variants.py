"""Forward ranking of training variants that might beat the shipped LightGBM on the months after each origin.

    python benchmarks/bench_forward_variants.py [path/to/AviationData.csv] [--samples 500]

At each backtest origin (the parameters as `kedro run --env ntsb` reads them: four origins), the transformer is fitted on every labelled event
before it (the next months' events join its history as occurrences, as the backtest does) and each
variant is fitted on the same matrix, full fields, with damage; the next ``horizon_months`` are
scored. The variants: the LightGBM candidate as `modelling` fits it (its block of
parameters_modelling.yml, the rounds early stopping chose, scaled by rows: the shipped settings);
the same with recent events weighted more (half-lives of 5, 10 and 20 years) or with events before
1995 left out; two other LightGBM settings; the XGBoost candidate; and the rank average of
LightGBM and XGBoost. Ranking only (ROC-AUC, PR-AUC of the raw scores; calibration does not change
them). Prints each origin's figures, their mean over every origin and over the origins from the test
split's start on (the templates' rounds were chosen by early stopping on the validation split, which
the earlier origins score), and each mean's difference from the shipped settings with a 95% interval
from event resamples paired across variants (stratified by origin).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_backtest import DEFAULT_EXPORT, prepare
from scipy.stats import rankdata

from severity.data.leakage import select_model_inputs
from severity.data.schema import EVENT_DATE, EVENT_KEY, TARGET_COLUMN
from severity.evaluation.bootstrap import event_bootstrap, percentile_intervals
from severity.evaluation.metrics import weighted_average_precision, weighted_roc_auc
from severity.features import AviationFeatureEngineer
from severity.models.artifact import variant_columns
from severity.models.estimators import fatal_scores, with_fixed_capacity
from severity.models.training import train_candidate
from severity.parameters import validate
from severity.pipelines.parameters import (
    CandidateSettings,
)

SHIPPED = "lightgbm (shipped settings)"
VARIANT = "with_damage"


def candidate_settings(lightgbm: dict, xgboost: dict) -> dict[str, dict]:
    """The candidates' settings blocks to fit, the shipped LightGBM first."""
    hyper = lightgbm["hyperparameters"]
    return {
        SHIPPED: lightgbm,
        "lightgbm, slower and smaller": {
            **lightgbm,
            "name": "lightgbm_slow",
            "hyperparameters": {
                **hyper,
                "learning_rate": 0.01,
                "num_leaves": 15,
                "min_child_samples": 50,
                "colsample_bytree": 0.5,
            },
        },
        "lightgbm, wider and regularised": {
            **lightgbm,
            "name": "lightgbm_wide",
            "hyperparameters": {
                **hyper,
                "learning_rate": 0.02,
                "num_leaves": 63,
                "min_child_samples": 100,
                "colsample_bytree": 0.5,
                "reg_lambda": 5.0,
            },
        },
        "xgboost": xgboost,
    }


def recency_weights(dates: pd.Series, origin: pd.Timestamp, half_life_years: float) -> np.ndarray:
    return 0.5 ** ((origin - dates).dt.days.to_numpy() / 365.25 / half_life_years)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", nargs="?", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--samples", type=int, default=500, help="event resamples for the intervals")
    args = parser.parse_args()
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    started = time.perf_counter()

    prepared = prepare(args.export)
    features, blocks, modelling, backtest = prepared.features, prepared.blocks, prepared.modelling, prepared.backtest
    train, validation, test = prepared.train, prepared.validation, prepared.test
    engineer, train_input, validation_input = prepared.engineer, prepared.train_input, prepared.validation_input
    templates = {}
    for label, block in candidate_settings(blocks["lightgbm"]["settings"], blocks["xgboost"]["settings"]).items():
        settings = validate(CandidateSettings, block, label)
        templates[label] = train_candidate(
            settings.name,
            settings.as_dict(),
            train_input,
            validation_input,
            engineer.feature_names_out_,
            [VARIANT],
            modelling.random_state,
            modelling.n_jobs,
        )[VARIANT].estimator

    events = pd.concat([train, validation, test], ignore_index=True)
    event_day = events.groupby(EVENT_KEY)[EVENT_DATE].transform("min")
    scored = []
    for origin in backtest.origins:
        start = pd.Timestamp(origin)
        end = start + pd.DateOffset(months=backtest.horizon_months)
        past, window = events[event_day < start], events[(event_day >= start) & (event_day < end)]
        origin_engineer = AviationFeatureEngineer(features.features)
        matrix = origin_engineer.fit_transform(past, past[TARGET_COLUMN].to_numpy())
        origin_engineer.add_history(window)
        columns = variant_columns(origin_engineer.feature_names_out_, VARIANT)
        inputs, target = select_model_inputs(matrix, columns), past[TARGET_COLUMN].to_numpy()
        window_inputs = origin_engineer.transform(window)[columns].to_numpy()

        def fitted(template, rows=slice(None), weight=None, *, inputs=inputs, target=target):
            # Rounds scale with the rows fitted, as the shipping protocol scales them (tree_scale: rows).
            scale = len(target[rows]) / len(train)
            estimator = with_fixed_capacity(template, scale, modelling.n_jobs, modelling.random_state)
            return estimator.fit(inputs[rows], target[rows], sample_weight=weight)

        scores = {
            label: fatal_scores(fitted(template), window_inputs, columns) for label, template in templates.items()
        }
        lightgbm = templates[SHIPPED]
        for half_life in (5, 10, 20):
            weight = recency_weights(past[EVENT_DATE], start, half_life)
            scores[f"lightgbm, recent events weighted (half-life {half_life} y)"] = fatal_scores(
                fitted(lightgbm, weight=weight), window_inputs, columns
            )
        since = (past[EVENT_DATE] >= "1995-01-01").to_numpy()
        scores["lightgbm, events from 1995 only"] = fatal_scores(fitted(lightgbm, since), window_inputs, columns)
        scores["rank average of lightgbm and xgboost"] = (rankdata(scores[SHIPPED]) + rankdata(scores["xgboost"])) / (
            2 * len(window)
        )
        scored.append(
            pd.DataFrame(
                {
                    "origin": origin,
                    EVENT_KEY: window[EVENT_KEY].to_numpy(),
                    TARGET_COLUMN: window[TARGET_COLUMN].to_numpy(),
                    **scores,
                }
            )
        )
        print(f"origin {origin}: {len(past):,} rows before it, {len(window):,} scored", flush=True)
    fitted_at = time.perf_counter()

    table = pd.concat(scored, ignore_index=True)
    variants = [name for name in table.columns if name not in ("origin", EVENT_KEY, TARGET_COLUMN)]
    origins = table["origin"].to_numpy()
    target = table[TARGET_COLUMN].to_numpy()

    # The templates' rounds were chosen by early stopping on the validation split, so origins inside it score events
    # that chose them; the means are given over every origin and over those from the test split's start on.
    origin_sets = {
        "all origins": list(backtest.origins),
        f"origins from {features.split.test_start}": [o for o in backtest.origins if o >= features.split.test_start],
    }

    def figures(weight: np.ndarray) -> dict[str, float]:
        values = {}
        for name in variants:
            score = table[name].to_numpy()
            per_origin = {
                origin: (
                    weighted_roc_auc(target[rows], score[rows], weight[rows]),
                    weighted_average_precision(target[rows], score[rows], weight[rows]),
                )
                for origin, rows in ((origin, origins == origin) for origin in backtest.origins)
            }
            for set_name, members in origin_sets.items():
                values[f"{name}|{set_name}|roc_auc"] = float(np.mean([per_origin[o][0] for o in members]))
                values[f"{name}|{set_name}|pr_auc"] = float(np.mean([per_origin[o][1] for o in members]))
        for key in list(values):
            name, rest = key.split("|", 1)
            values[f"{key}|difference"] = values[key] - values[f"{SHIPPED}|{rest}"]
        return values

    point = figures(np.ones(len(table)))
    intervals = percentile_intervals(
        event_bootstrap(figures, table[EVENT_KEY].to_numpy(), args.samples, backtest.seed, strata=origins)
    )
    print(
        f"\nexport: {args.export}; origins {list(backtest.origins)}, {backtest.horizon_months} months each, "
        f"{len(table):,} scored rows; full fields, {VARIANT}; {args.samples} event resamples\n"
    )
    columns = [(metric, set_name) for metric in ("roc_auc", "pr_auc") for set_name in origin_sets]
    labels = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC"}
    header = " | ".join(f"ROC-AUC {origin[:7]}" for origin in backtest.origins)
    header += "".join(f" | {labels[metric]}, mean of {set_name} | difference" for metric, set_name in columns)
    print(f"| variant | {header} |")
    print("|---|" + "---:|" * (len(backtest.origins) + 2 * len(columns)))
    for name in variants:
        score = table[name].to_numpy()
        cells = [
            f"{weighted_roc_auc(target[rows], score[rows], np.ones(rows.sum())):.4f}"
            for rows in (origins == origin for origin in backtest.origins)
        ]
        for metric, set_name in columns:
            key = f"{name}|{set_name}|{metric}"
            low, high = intervals[f"{key}|difference"]
            cells.append(f"{point[key]:.4f}")
            cells.append("" if name == SHIPPED else f"{point[f'{key}|difference']:+.4f} [{low:+.4f}, {high:+.4f}]")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(
        f"\nwall time: templates and fits {fitted_at - started:.0f} s, intervals {time.perf_counter() - fitted_at:.0f} s"
    )


if __name__ == "__main__":
    main()
