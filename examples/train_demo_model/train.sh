#!/usr/bin/env bash
# Retrains the demo model exactly as recorded in README.md: 2 threads, OpenBLAS (Debian's torch is
# built against the generic libblas.so.3, which is ~8x slower; libopenblas0-pthread provides a
# drop-in one), low priority. Extra arguments go to train.py (defaults are the recorded run).
set -euo pipefail
cd "$(dirname "$0")"
OB=/usr/lib/x86_64-linux-gnu/openblas-pthread
[ -f "$OB/libblas.so.3" ] && export LD_LIBRARY_PATH=$OB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2
exec nice /usr/bin/python3 train.py --out-dir . "$@"
