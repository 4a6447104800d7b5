"""Explanations of any champion family in one unit, and their aggregation to raw input fields."""

import os
import sys


def _allow_512_bit_vectors() -> None:
    """Let numba compile 512-bit vector code on CPUs with AVX-512, unless the process has chosen otherwise.

    LLVM tunes recent Intel CPUs to prefer 256-bit vectors even where 512-bit ones exist. The
    batch TreeSHAP kernel's row loops are elementwise (no floating-point reassociation is
    allowed), so the width changes speed, not results: the wider vectors make the batch kernel
    faster and its contributions stay bit-identical (BENCHMARKS.md, Explanations). numba reads the setting once,
    when it is first imported, so it is set here, before this package's modules import it
    (``shap`` does too); a ``NUMBA_CPU_FEATURES`` already in the environment is left as it is.
    """
    if "numba" in sys.modules or "NUMBA_CPU_FEATURES" in os.environ:
        return
    try:
        from llvmlite import binding

        features = binding.get_host_cpu_features()
    except (ImportError, RuntimeError):  # numba then uses its own default, as without this
        return
    if features.get("avx512f"):
        os.environ["NUMBA_CPU_FEATURES"] = f"{features.flatten()},-prefer-256-bit"


_allow_512_bit_vectors()
