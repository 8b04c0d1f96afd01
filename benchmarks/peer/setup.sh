#!/usr/bin/env bash
# Installs the peers (PyTorch and JAX, CPU) into benchmarks/.bench/venv, once. Python is used only here.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .bench/venv/bin/python ] || ! .bench/venv/bin/python -c "import jax, torch" 2>/dev/null; then
  python3 -m venv .bench/venv
  .bench/venv/bin/pip install --quiet --upgrade pip
  .bench/venv/bin/pip install --quiet -r peer/requirements.txt
fi
.bench/venv/bin/python -c "import jax, torch; print('peer: jax', jax.__version__, 'torch', torch.__version__)"
