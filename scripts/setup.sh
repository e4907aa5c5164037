#!/usr/bin/env bash
# Creates .venv (Python 3.11) and installs the project with the extras named in $DPR_EXTRAS
# (default: train,dev,qdrant,redis). Safe to re-run: it only installs what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
EXTRAS=${DPR_EXTRAS:-train,dev,qdrant,redis}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# torch's CPU build lies on disk on our machines; an index would serve a multi-GB CUDA build.
FIND_LINKS=()
[ -d /opt/wheels ] && FIND_LINKS=(--find-links /opt/wheels)
stamp=.venv/.dpr-installed
want="$(sha256sum pyproject.toml | cut -c1-16) $EXTRAS"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "${FIND_LINKS[@]}" -e ".[$EXTRAS]"
  echo "$want" > "$stamp"
fi
