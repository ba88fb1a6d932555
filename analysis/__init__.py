"""Statistics and reporting toolkit for blood-cancer quality registries."""

import os

# OpenBLAS's worker threads contend with polars' thread pool on small machines and make
# each small GLM fit about ten times slower (bench/RESULTS.md); one BLAS thread is faster.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.2.0"
