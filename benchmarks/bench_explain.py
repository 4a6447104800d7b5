"""Explanation time per family on an NTSB export: one event (the serving path) and 1,000 events.

    python benchmarks/bench_explain.py [path/to/AviationData.csv] [--single 200]

Fits every candidate family with the project's default parameters on the real training split
(with damage), then times ``explain`` on test events. For the tree families it also times the
exact TreeSHAP engines against each other: the project's compiled one (what ``explain`` uses),
the boosters' native contribution output, and the ``shap`` package.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from severity.data.ingest import parse_events
from severity.data.split import split_by_time
from severity.data.target import label_events
from severity.explain.explainers import explainer_for
from severity.features import AviationFeatureEngineer, FeatureSettings
from severity.models.estimators import single_threaded
from severity.models.training import train_candidate

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_EXPORT = PROJECT.parent / "shared" / "data" / "ntsb" / "AviationData.csv"
FAMILIES = ("logistic_regression", "decision_tree", "xgboost", "random_forest", "lightgbm", "mlp", "voting", "stacking")


def timed(function, repeats: int) -> float:
    """Median seconds of ``repeats`` calls."""
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", nargs="?", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--single", type=int, default=200, help="single events timed per family")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("severity").setLevel(logging.ERROR)
    parameters = yaml.safe_load((PROJECT / "conf/base/parameters_modelling.yml").read_text())

    labelled, _ = label_events(parse_events(pd.read_csv(args.export, dtype=str, keep_default_na=False))[0])
    train, validation, test, _ = split_by_time(labelled, "2011-01-01", "2013-01-01")
    engineer = AviationFeatureEngineer(FeatureSettings())
    inputs = {"train": engineer.fit_transform(train, train["fatal"]).assign(fatal=train["fatal"].to_numpy())}
    engineer.add_history(pd.concat([validation, test]))
    inputs["validation"] = engineer.transform(validation).assign(fatal=validation["fatal"].to_numpy())
    inputs["test"] = engineer.transform(test).assign(fatal=test["fatal"].to_numpy())
    names = engineer.feature_names_out_
    background = inputs["train"][names].sample(200, random_state=42)
    test_x = inputs["test"][names]
    batch = test_x.iloc[:1000]

    fitted, explainers = {}, {}
    for family in FAMILIES:
        settings = dict(parameters[family]["settings"])
        members = (
            {m: fitted[m] for m in ("xgboost", "random_forest", "lightgbm")}
            if family in ("voting", "stacking")
            else None
        )
        if members:
            settings["members"] = list(members)
        groups = train["event_id"].to_numpy() if family == "stacking" else None
        fitted[family] = train_candidate(
            family,
            settings,
            inputs["train"],
            inputs["validation"],
            names,
            ["with_damage"],
            42,
            2,
            train_groups=groups,
            members=members,
        )
        single_threaded(fitted[family]["with_damage"].estimator)  # as packaged for serving
        explainers[family] = explainer_for(fitted[family]["with_damage"].estimator, names, background)
        explainers[family].explain(test_x.iloc[:2])  # warm-up (builds lazy shap objects, compiles)

    # What the packaged model hands its explainer: a float array where the explainer takes one, else a named row.
    count = min(args.single, len(test_x))
    rows = {
        family: [test_x.iloc[[i]].to_numpy() if e.takes_arrays else test_x.iloc[[i]] for i in range(count)]
        for family, e in explainers.items()
    }
    # Round-robin over the families, a tenth of the events at a time: the shared machine's slow spells fall on all alike.
    single: dict[str, list[float]] = {family: [] for family in FAMILIES}
    for start in range(0, count, max(1, count // 10)):
        for family, explainer in explainers.items():
            for row in rows[family][start : start + max(1, count // 10)]:
                single[family].append(timed(lambda row=row, e=explainer: e.explain(row), 1))
    print(
        f"export: {args.export.name}; {len(names)} features; single-event medians over {count} test events, families interleaved"
    )
    print(f"{'family':>20} | {'exact':>5} | {'one event ms':>12} | {'p90 ms':>7} | {'1,000 events s':>14}")
    for family, explainer in explainers.items():
        thousand = timed(lambda e=explainer: e.explain(batch.to_numpy() if e.takes_arrays else batch), 1)
        one = np.array(single[family]) * 1000
        print(
            f"{family:>20} | {str(explainer.exact):>5} | {np.median(one):12.2f} | {np.percentile(one, 90):7.2f} | {thousand:14.2f}"
        )

    print("exact TreeSHAP engines, same events (compiled = severity.explain.treeshap, what explain() uses):")
    import shap  # here, not at the top: severity.explain must set numba's vector width before shap imports numba

    arrays = [test_x.iloc[[i]].to_numpy() for i in range(min(args.single, len(test_x)))]
    for family in ("xgboost", "lightgbm", "decision_tree", "random_forest"):
        estimator = fitted[family]["with_damage"].estimator
        explainer = explainer_for(estimator, names, background)
        package = shap.TreeExplainer(estimator)
        if family in ("xgboost", "lightgbm"):
            engines = {"compiled": explainer.explain, "native": explainer.native_explain, "shap": package.shap_values}
            compiled = explainer.explain(batch.to_numpy()).contributions
            reference = explainer.native_explain(batch.to_numpy()).contributions
            agreement = f"max difference from native {np.abs(compiled - reference).max():.1e}"
        else:  # in probability, the unit both engines work in (shap routes missing values its own way: compared on complete rows)
            engines = {"compiled": explainer.ensemble.contributions, "shap": package.shap_values}
            complete = batch.fillna(0.0).to_numpy()
            reference = np.asarray(package.shap_values(complete, check_additivity=False))[:, :, 1]
            agreement = f"max difference from shap on complete rows {np.abs(explainer.ensemble.contributions(complete) - reference).max():.1e}"
        figures = []
        for name, engine in engines.items():
            one = statistics.median(
                timed(lambda row=row, e=engine: e(row), 1)
                for row in arrays[: 20 if name == "shap" and family == "random_forest" else None]
            )
            thousand = timed(lambda e=engine: e(batch.to_numpy()), 1)
            figures.append(f"{name} {one * 1000:.2f} ms / {thousand:.2f} s")
        size = (
            f"{len(explainer.ensemble.roots)} trees, {explainer.ensemble.leaf_count:,} leaves"
            if explainer.ensemble is not None
            else ""
        )
        print(f"{family:>20} ({size}): one event / 1,000 events: {'; '.join(figures)}; {agreement}")


if __name__ == "__main__":
    main()
