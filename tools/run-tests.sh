#!/usr/bin/env bash
# Run voms-auth's test suites (lint, unit, functional against a real Keystone
# and a real OpenID Provider, end-to-end through a real Apache with
# mod_gridsite and the openstack client, Keystone on a private MariaDB with
# several server processes) and print one closing line of totals.
# Usage: tools/run-tests.sh [TOXENV[,TOXENV...]]
set -uo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh || exit 2

ENVS=${1:-pep8,docs,py3,fuzz,functional,e2e,mariadb}
rm -rf .test-results
mkdir -p .test-results
.venv/bin/tox -e "$ENVS"
rc=$?
.venv/bin/python tools/summarize-results.py .test-results || rc=1
exit $rc
