#!/usr/bin/env bash
# Build voms-auth's sdist and wheel as a release would, check them, install
# the *wheel* (not the source tree) with Keystone into a fresh virtualenv
# and run the functional suite against that install.
# Usage: tools/dist-check.sh WORKDIR [pytest args...]   (tox -e dist)
# WORKDIR is emptied first. Exits non-zero on the first failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=$1
shift
rm -rf "$work"
mkdir -p "$work"

echo "== build (sdist, then the wheel from the sdist)"
python -m build --outdir "$work/dist" "$top"
shopt -s nullglob
sdists=("$work"/dist/*.tar.gz)
wheels=("$work"/dist/voms_auth-*.whl)
shopt -u nullglob
if [ ${#sdists[@]} -ne 1 ] || [ ${#wheels[@]} -ne 1 ]; then
    echo "expected one sdist and one wheel in $work/dist"; ls -l "$work/dist"; exit 1
fi
wheel=${wheels[0]}

echo "== twine check"
python -m twine check --strict "$work"/dist/*

echo "== the wheel's entry points and data (setup.cfg is pbr)"
python - "$wheel" <<'PY'
import sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
names = wheel.namelist()
entry = next(n for n in names if n.endswith('.dist-info/entry_points.txt'))
text = wheel.read(entry).decode()
want = {
    'console_scripts': ['voms-auth = voms_auth.cli:main'],
    'keystone.auth.voms': ['default = voms_auth.keystone.handlers:Voms'],
    'keystone.auth.oidc': ['default = voms_auth.keystone.handlers:Oidc'],
    'oslo.config.opts': ['voms_auth = voms_auth.conf:list_opts'],
    'keystoneauth1.plugin': [
        'v3voms = voms_auth.keystoneauth.loading:V3VomsLoader',
        'v3gridtoken = voms_auth.keystoneauth.loading:V3GridTokenLoader'],
}
sections, current = {}, None
for line in text.splitlines():
    line = line.strip()
    if line.startswith('['):
        current = sections.setdefault(line.strip('[]'), [])
    elif line and current is not None:
        current.append(' '.join(line.split()))
missing = [(s, e) for s, entries in want.items() for e in entries
           if e not in sections.get(s, [])]
if missing:
    sys.exit('entry points missing from %s: %s' % (sys.argv[1], missing))
for needed in ('voms_auth/mapping/schema.json',
               'voms_auth/keystone/wsgi_api.py'):
    if needed not in names:
        sys.exit('%s is not in the wheel' % needed)
if any(n.startswith('tests/') for n in names):
    sys.exit('the wheel ships tests/')
print('entry points and package data present')
PY

echo "== install the wheel with Keystone into a clean venv"
python -m venv "$work/venv"
venv="$work/venv/bin"
"$venv/pip" install --quiet --upgrade pip
"$venv/pip" install --quiet "${wheel}[keystone]" -r "$top/test-requirements.txt"

echo "== the functional suite, from a copy of tests/ outside the tree"
mkdir -p "$work/suite"
cp -a "$top/tests" "$work/suite/tests"
cp -a "$top/etc" "$work/suite/etc"   # samples some tests check
cd "$work/suite"
"$venv/python" - "$work/venv" <<'PY'
import os, sys
import voms_auth
where = os.path.realpath(voms_auth.__file__)
venv = os.path.realpath(sys.argv[1])
if not where.startswith(venv + os.sep) or 'site-packages' not in where:
    sys.exit('voms_auth is imported from %s, not from the venv' % where)
print('voms_auth imported from', where)
PY
"$venv/voms-auth" --help >/dev/null
export VOMS_AUTH_EXPECT_INSTALLED="$work/venv"
"$venv/python" -m pytest -ra -p no:cacheprovider --basetemp="$work/basetemp" \
    --junitxml="$top/.test-results/dist.xml" tests/functional "$@"
