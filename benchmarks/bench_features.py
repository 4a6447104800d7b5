"""Feature engineering on an NTSB export: fit + transform time, single-event latency, peak memory, feature counts.

    python benchmarks/bench_features.py [path/to/AviationData.csv] [--single 300]

Also fits the same XGBoost (fixed settings, early stopping on validation) on the raw columns
and on the engineered features, with and without aircraft damage, and prints test ROC-AUC:
the signal the features add beyond the raw export.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from severity.data.ingest import parse_events
from severity.data.split import split_by_time
from severity.data.target import label_events
from severity.features import AviationFeatureEngineer, FeatureSettings
from severity.features.catalog import catalog_summary, feature_catalog
from severity.features.columns import event_columns

DEFAULT_EXPORT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ntsb" / "AviationData.csv"
RAW_CATEGORICAL = [
    "aircraft_damage",
    "aircraft_category",
    "make",
    "model",
    "engine_type",
    "far_description",
    "schedule",
    "purpose_of_flight",
    "weather_condition",
    "broad_phase_of_flight",
    "airport_code",
    "country",
]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_columns(events: pd.DataFrame, categories: dict[str, pd.Index] | None = None) -> pd.DataFrame:
    """The export's own columns as XGBoost takes them (categoricals native, dates as year and month)."""
    table = pd.DataFrame(index=events.index)
    table["year"] = events["event_date"].dt.year
    table["month"] = events["event_date"].dt.month
    table["latitude"] = events["latitude"]
    table["longitude"] = events["longitude"]
    table["number_of_engines"] = events["number_of_engines"].astype("float64")
    table["amateur_built"] = events["amateur_built"].astype("float64")
    for column in RAW_CATEGORICAL:
        values = events[column].astype(object)
        if categories is not None:  # categories unseen in training become missing, as XGBoost expects
            values = values.where(values.isin(categories[column]))
        table[column] = pd.Categorical(values, categories=None if categories is None else categories[column])
    return table


def xgboost_auc(train_x, train_y, validation_x, validation_y, test_x, test_y) -> float:
    model = xgb.XGBClassifier(
        n_estimators=2000,
        learning_rate=0.05,
        max_depth=6,
        subsample=0.8,
        colsample_bytree=0.8,
        n_jobs=2,
        eval_metric="logloss",
        early_stopping_rounds=100,
        enable_categorical=True,
        random_state=0,
    )
    model.fit(train_x, train_y, eval_set=[(validation_x, validation_y)], verbose=False)
    return roc_auc_score(test_y, model.predict_proba(test_x)[:, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", nargs="?", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--single", type=int, default=300, help="events timed one at a time")
    parser.add_argument("--skip-signal", action="store_true", help="do not fit the XGBoost comparison")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("severity").setLevel(logging.ERROR)

    raw = pd.read_csv(args.export, dtype=str, keep_default_na=False)
    labelled, _ = label_events(parse_events(raw)[0])
    train, validation, test, _ = split_by_time(labelled, "2011-01-01", "2013-01-01")
    rss_before = peak_rss_mib()

    engineer = AviationFeatureEngineer(FeatureSettings())
    start = time.perf_counter()
    train_features = engineer.fit_transform(train, train["fatal"])
    fitted = time.perf_counter()
    engineer.add_history(pd.concat([validation, test]))
    extended = time.perf_counter()
    validation_features = engineer.transform(validation)
    test_features = engineer.transform(test)
    done = time.perf_counter()
    rss_after = peak_rss_mib()

    rows = [test.iloc[[i]] for i in range(min(args.single, len(test)))]
    row_columns = [event_columns(row) for row in rows]
    for row in rows[:20]:  # warm-up: caches of neighbour trees and category positions
        engineer.transform(row)
    singles, singles_columns = [], []
    for row, columns in zip(rows, row_columns, strict=True):
        begin = time.perf_counter()
        engineer.transform(row)
        middle = time.perf_counter()
        engineer.transform_columns(columns)
        singles.append(middle - begin)
        singles_columns.append(time.perf_counter() - middle)
    summary = catalog_summary(feature_catalog(engineer, train_features))

    print(
        f"export: {args.export.name}; train {len(train):,}, validation {len(validation):,}, test {len(test):,} rows; {os.cpu_count()} cores"
    )
    print(f"fit_transform (train):     {fitted - start:6.2f} s")
    print(f"add_history (val + test):  {extended - fitted:6.2f} s")
    print(f"transform (val + test):    {done - extended:6.2f} s")
    print(f"total fit + transform:     {done - start:6.2f} s")
    for label, timings in (("transform(DataFrame)", singles), ("transform_columns", singles_columns)):
        print(
            f"one event, {label:>20}: median {statistics.median(timings) * 1000:.2f} ms, p95 {np.percentile(timings, 95) * 1000:.2f} ms over {len(timings)} events"
        )
    print(f"peak RSS: {rss_before:.0f} MiB after loading, {rss_after:.0f} MiB after fitting")
    print("features: " + ", ".join(f"{k} {int(v)}" for k, v in summary.items()))

    if args.skip_signal:
        return
    y = {
        name: part["fatal"].to_numpy() for name, part in (("train", train), ("validation", validation), ("test", test))
    }
    raw_train = raw_columns(train)
    categories = {c: raw_train[c].cat.categories for c in RAW_CATEGORICAL}
    raw_sets = [raw_train, raw_columns(validation, categories), raw_columns(test, categories)]
    engineered = [train_features, validation_features, test_features]
    for label, drop_damage in (("with damage", False), ("without damage", True)):
        raw_sets_used = [t.drop(columns=["aircraft_damage"]) if drop_damage else t for t in raw_sets]
        columns = [c for c in train_features if not (drop_damage and c.startswith("damage__"))]
        engineered_used = [t[columns] for t in engineered]
        raw_auc = xgboost_auc(
            raw_sets_used[0], y["train"], raw_sets_used[1], y["validation"], raw_sets_used[2], y["test"]
        )
        engineered_auc = xgboost_auc(
            engineered_used[0], y["train"], engineered_used[1], y["validation"], engineered_used[2], y["test"]
        )
        print(
            f"XGBoost test ROC-AUC {label:>15}: raw columns {raw_auc:.4f}, engineered features {engineered_auc:.4f} ({engineered_auc - raw_auc:+.4f})"
        )


if __name__ == "__main__":
    main()
