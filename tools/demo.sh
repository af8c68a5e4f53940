#!/usr/bin/env bash
# Main job on an embedded default: a local Keystone on SQLite with voms-auth,
# a demo CA / VO / proxy and an OpenID Provider; a grid user logs in both ways.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
exec .venv/bin/tox -q -e demo -- "$@"
