#!/usr/bin/env bash
# The test command: installs what the tests need, lints, runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check dpr_plugin tests benchmarks
.venv/bin/ruff format --check dpr_plugin tests benchmarks
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"
