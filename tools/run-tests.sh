#!/usr/bin/env bash
# Run voms-auth's test suites (lint, unit, fuzz, functional against a real
# Keystone 30, 29 and 25 and a real OpenID Provider, the installed wheel,
# end-to-end through a real Apache with mod_gridsite and the openstack
# client and a real vomsd, Horizon WebSSO in headless Chromium, Keystone on
# a private MariaDB with several server processes, two Apache nodes behind
# HAProxy) and print one closing line of totals.
# Usage: tools/run-tests.sh [TOXENV[,TOXENV...]]
set -uo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh || exit 2

# CI runs Keystone 30 (functional), the oldest and newest older releases
# (25, 29) and the installed wheel (dist); 26-28 behave like 25 or 29 and
# run on demand: tools/run-tests.sh functional-keystone26,...
ENVS=${1:-pep8,docs,py3,fuzz,functional,functional-keystone25,functional-keystone29,dist,e2e,websso,mariadb,multinode}
rm -rf .test-results
mkdir -p .test-results
.venv/bin/tox -e "$ENVS"
rc=$?
.venv/bin/python tools/summarize-results.py .test-results || rc=1
exit $rc
