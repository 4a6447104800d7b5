"""The dashboard's timings on a trained project: explaining one event from the form, and the triage of 10,000 events.

    python benchmarks/bench_dashboard.py [PROJECT] [--repeats 30] [--triage-rows 10000]

PROJECT is a trained project folder (default: the demo sample trained in a temp copy with the ``ci`` environment, as
the tests do). "From the form" is the whole rerun of the Explain page in Streamlit's AppTest after the form's submit:
the request read by the service's schema, scored and explained by the served artifact, the waterfalls built; its
median over the repetitions, each with another latitude so nothing is reused. The scorer's own share is timed apart.
The triage figure scores the demo sample's rows, repeated under new event ids up to ``--triage-rows``, through the
page's chunked path (one progress step per chunk).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.update(DO_NOT_TRACK="1", BENTOML_DO_NOT_TRACK="true", KEDRO_DISABLE_TELEMETRY="true")
PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))


def trained_demo() -> Path:
    os.environ.setdefault("BENTOML_HOME", tempfile.mkdtemp(prefix="bench-dashboard-bentoml-"))
    from tests.conftest import make_project_copy, run_session

    root = make_project_copy(Path(tempfile.mkdtemp(prefix="bench-dashboard-")))
    run_session(root, "training", env="ci")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", nargs="?", type=Path)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--triage-rows", type=int, default=10_000)
    args = parser.parse_args()
    root = args.project.resolve() if args.project else trained_demo()

    import pandas as pd
    from streamlit.testing.v1 import AppTest

    from severity.dashboard.data import Scorer
    from severity.dashboard.page_triage import score_upload
    from severity.serving.schemas import EXAMPLE_EVENT

    with contextlib.chdir(root):
        app = AppTest.from_string(
            "from severity.dashboard import page_explain\npage_explain.render()\n", default_timeout=300
        )
        app.run()  # loads the project and the model once, as the first visit does
        assert not app.exception, app.exception
        page_times = []
        for repeat in range(args.repeats):
            app.text_input(key="field_latitude").set_value(f"{60 + repeat * 0.01:.2f}")
            start = time.perf_counter()
            app.button[0].click().run()
            page_times.append(time.perf_counter() - start)
            assert not app.exception and not app.error
        scorer = Scorer()
        scorer_times = []
        for repeat in range(args.repeats):
            start = time.perf_counter()
            scorer.explain({**EXAMPLE_EVENT, "latitude": 60 + repeat * 0.01})
            scorer_times.append(time.perf_counter() - start)

        demo = pd.read_csv(root / "data" / "01_raw" / "synthetic_ntsb_demo.csv", dtype=str, keep_default_na=False)
        copies = -(-args.triage_rows // len(demo))
        rows = pd.concat(
            [demo.assign(**{"Event.Id": demo["Event.Id"] + f"-{copy}"}) for copy in range(copies)], ignore_index=True
        ).head(args.triage_rows)
        steps = []
        start = time.perf_counter()
        scored = score_upload(
            scorer,
            rows.to_csv(index=False).encode(),
            "bench.csv",
            25,
            lambda done, total, what: steps.append((what, done)),
        )
        triage_seconds = time.perf_counter() - start
        assert len(scored) == len(rows)

    print(f"project: {root}")
    print(
        f"explain one event from the form (page rerun), median of {args.repeats}: {statistics.median(page_times) * 1000:.0f} ms "
        f"(min {min(page_times) * 1000:.0f}, max {max(page_times) * 1000:.0f})"
    )
    print(f"  of which the scorer's explain, median: {statistics.median(scorer_times) * 1000:.1f} ms")
    print(
        f"triage: {len(rows):,} events scored and the top 25 explained in {triage_seconds:.1f} s, "
        f"{len(steps)} progress steps"
    )


if __name__ == "__main__":
    main()
