#!/usr/bin/env bash
# Installs fastrl into the current Python environment.
#   ./install.sh          runtime only
#   ./install.sh dev      runtime + test and lint tools (pytest, pytest-benchmark, ruff, triton)
#   ./install.sh peers    runtime + the baselines `fastrl bench replay` compares with (SB3, cpprb, torchrl);
#                         extras combine: ./install.sh dev peers
# torch comes first: where none is installed, the pinned CPU build (a local wheel on our machines) is put in
# place, because a bare `torch` requirement pulls the newest CUDA build (gigabytes). A torch that is already
# installed, a CUDA build included, is kept as it is.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
TORCH_PIN=${FASTRL_TORCH_PIN:-torch==2.13.0}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  echo "install.sh: no torch found; installing $TORCH_PIN"
  "$PY" -m pip install -q "$TORCH_PIN"
fi
extras=$(IFS=,; echo "$*")
"$PY" -m pip install -q -e ".${extras:+[$extras]}"
# torchrl's wheel can lag torch: where its C++ extension does not load, rebuild it from the sources the wheel
# ships (about two minutes), so its prioritized buffer can be measured
if [[ ",$extras," == *",peers,"* ]] && ! "$PY" -c "import torchrl._torchrl" >/dev/null 2>&1; then
  "$PY" -c "from fastrl.benchmarks.replay import rebuild_torchrl_extension as r; r()"
fi
