#!/usr/bin/env bash
# The serving install: `dpr serve` with the Qdrant-server and Redis clients, without torch.
# One script for the container image (deploy/Dockerfile runs it) and for CI
# (tests/deploy/test_container.py runs it into a fresh virtual environment), so the image
# installs what CI checked.
#   PYTHON=/path/to/python bash scripts/install_serving.sh [SOURCE_DIR]
set -euo pipefail
SRC=${1:-$(cd "$(dirname "$0")/.." && pwd)}
PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip install --disable-pip-version-check --quiet "${SRC}[qdrant,redis]"
if "$PYTHON" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"; then
  echo "install_serving: torch was installed; the serving install must not pull it" >&2
  exit 1
fi
"$(dirname "$("$PYTHON" -c 'import sys; print(sys.executable)')")/dpr" serve --help > /dev/null
echo "install_serving: dpr serve installed for $("$PYTHON" -c 'import sys; print(sys.executable)')"
