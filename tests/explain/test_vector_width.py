"""severity.explain lets numba use 512-bit vectors on AVX-512 CPUs: faster kernels, the same numbers."""

import os
import pickle
import subprocess
import sys

import lightgbm as lgb
import numpy as np
import pytest
from llvmlite import binding
from sklearn.datasets import make_classification

from severity.explain import treeshap

HOST_FEATURES = binding.get_host_cpu_features()
HAS_AVX512 = bool(HOST_FEATURES.get("avx512f"))


def _python(code: str, *arguments: str, **environment: str) -> str:
    """Runs ``code`` in a fresh interpreter (numba reads its settings once, at import) and returns its output."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CPU_FEATURES"} | environment
    command = [sys.executable, "-c", code, *arguments]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=600).stdout.strip()


SHOW_SETTING = "import severity.explain, numba; print(numba.config.CPU_FEATURES or 'default')"


def test_the_setting_follows_the_cpu():
    expected = f"{HOST_FEATURES.flatten()},-prefer-256-bit" if HAS_AVX512 else "default"
    assert _python(SHOW_SETTING) == expected


def test_a_setting_already_in_the_environment_is_kept():
    chosen = HOST_FEATURES.flatten()  # numba's own default, 256-bit vectors preferred
    assert _python(SHOW_SETTING, NUMBA_CPU_FEATURES=chosen) == chosen


@pytest.mark.skipif(not HAS_AVX512, reason="without AVX-512 both settings compile the same code")
def test_contributions_are_bit_identical_with_either_vector_width(tmp_path):
    features, target = make_classification(n_samples=900, n_features=8, n_informative=5, weights=[0.7], random_state=3)
    features[::7, 1] = np.nan
    model = lgb.LGBMClassifier(n_estimators=60, num_leaves=31, verbose=-1, n_jobs=1).fit(features[:600], target[:600])
    ensemble = treeshap.from_lightgbm(model.booster_)
    (tmp_path / "ensemble.pkl").write_bytes(pickle.dumps((ensemble, features[600:])))
    code = (
        "import pickle, sys, numpy as np, severity.explain; "
        f"ensemble, rows = pickle.loads(open({str(tmp_path / 'ensemble.pkl')!r}, 'rb').read()); "
        # 300 rows: the batch kernel (split across threads); 3 rows: the walk.
        "np.save(sys.argv[1], np.concatenate([ensemble.contributions(rows), ensemble.contributions(rows[:3])]))"
    )
    outputs = {}
    for name, environment in (("512-bit", {}), ("256-bit", {"NUMBA_CPU_FEATURES": HOST_FEATURES.flatten()})):
        path = tmp_path / f"{name}.npy"
        _python(code, str(path), **environment)
        outputs[name] = np.load(path)
    assert outputs["512-bit"].shape == (303, 8)
    np.testing.assert_array_equal(outputs["512-bit"], outputs["256-bit"])
    np.testing.assert_allclose(
        outputs["512-bit"][:300].sum(axis=1) + ensemble.expected_value,
        model.predict(features[600:], raw_score=True),
        atol=1e-9,
    )
