#!/usr/bin/env bash
# Validates Deploy/ (manifests, kustomization, Helm chart, Dockerfile) with no
# cluster, no root and no network: see validate.py for what checks what.
# `make deps` installs the Python packages it uses.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 Deploy/test/validate.py "$@"
