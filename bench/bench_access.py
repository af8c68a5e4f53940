"""Login cost against the number of projects a person is granted.

An in-process Keystone (SQLite, fernet) and a mapping of 100 rules
(``/dteam/g<i>`` -> project ``p<i>``). People hold 1, 10 or 100 of those
groups. Each round measures, interleaved, with CPU time
(``time.process_time``; the machine is shared, wall clock swings):

* ``re-scope``: Keystone's own ``token`` method re-scoping an unscoped
  password token to a project -- the baseline, same process, same database.
  It is the admin's token (no group memberships), so it does not include
  Keystone's own role computation through N groups that a grid login
  carries: the ratios here grow with N for that reason too.
  ``bench_keystone.py`` compares with the re-scope of the same person;
* ``repeat N``: a voms login (cached proxy verification, mapping, user
  lookup, membership sync) of a person already holding N projects;
* ``first N``: the first login of a new person granted N existing projects
  (user creation, N memberships).

Printed: the median of the per-round ratios to the re-scope. Goal (issue
9): the group-based bookkeeping costs at most 1.3x what the earlier
per-user assignment record cost for a repeat login; run this file against
the earlier commit (``VOMS_AUTH_BENCH_LABEL=before PYTHONPATH=<old tree>``)
to get that figure in the same session.
"""

import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

try:
    from tests.support import keystone as local_keystone
    from tests.support import pki as grid_pki
except ImportError:  # the tree before the harness left the package
    from voms_auth.testing import keystone as local_keystone
    from voms_auth.testing import pki as grid_pki

SIZES = (1, 10, 100)
ROUNDS = int(os.environ.get('VOMS_AUTH_BENCH_ROUNDS', '12'))
MAPPING = {
    'version': 1,
    'defaults': {'domain': 'Default', 'roles': ['member'], 'create': True},
    'rules': [{'match': {'group': '/dteam/g%d' % i},
               'grant': {'project': 'p%d' % i}} for i in range(100)],
}


def _cpu(fn, *args, **kwargs):
    start = time.process_time()
    response = fn(*args, **kwargs)
    spent = time.process_time() - start
    if response.status_code != 201:
        raise RuntimeError('login failed: %s'
                           % response.get_data(as_text=True))
    return spent


def _fqans(n):
    return ['/dteam/g%d' % i for i in range(n)]


def main():
    with tempfile.TemporaryDirectory(prefix='voms-auth-bench-') as tmp:
        tmp = pathlib.Path(tmp)
        pki = grid_pki.GridPKI(tmp / 'grid')
        mapping = tmp / 'mapping.json'
        mapping.write_text(json.dumps(MAPPING))
        keystone = local_keystone.LocalKeystone(
            tmp / 'keystone',
            voms_auth={'ca_path': pki.ca_path, 'vomsdir': pki.vomsdir,
                       'mapping_file': mapping,
                       'service_host': 'bench.example'}).setup().start()
        _run(keystone, pki)


def _rescope(keystone):
    unscoped = keystone.client().post('/v3/auth/tokens', json={
        'auth': {'identity': {'methods': ['password'], 'password': {
            'user': {'name': 'admin', 'domain': {'id': 'default'},
                     'password': local_keystone.ADMIN_PASSWORD}}}}})
    body = {'auth': {'identity': {'methods': ['token'], 'token': {
        'id': unscoped.headers['X-Subject-Token']}},
        'scope': keystone.project_scope('admin')}}
    return lambda: keystone.client().post('/v3/auth/tokens', json=body)


def _run(keystone, pki):
    # Every project exists before measuring: a first login then measures
    # user creation and memberships, not project creation.
    setup = pki.make_proxy(pki.new_user('Bench Setup'), fqans=_fqans(100))
    keystone.voms_login(setup)
    rescope = _rescope(keystone)
    repeat = {n: pki.make_proxy(pki.new_user('Bench Repeat %d' % n),
                                fqans=_fqans(n)) for n in SIZES}
    for proxy in repeat.values():
        keystone.voms_login(proxy, project='p0')
    first = {n: [pki.make_proxy(pki.new_user('Bench First %d %d' % (n, r)),
                                fqans=_fqans(n)) for r in range(ROUNDS)]
             for n in SIZES}
    ratios = {}
    for r in range(ROUNDS):
        base = statistics.median(_cpu(rescope) for _ in range(3))
        for n in SIZES:
            spent = _cpu(keystone.voms_login, repeat[n], project='p0')
            ratios.setdefault('repeat %d' % n, []).append(spent / base)
            spent = _cpu(keystone.voms_login, first[n][r], project='p0')
            ratios.setdefault('first %d' % n, []).append(spent / base)
        ratios.setdefault('re-scope ms', []).append(base * 1000)
    label = os.environ.get('VOMS_AUTH_BENCH_LABEL', 'this tree')
    print('login cost by projects granted (%s), CPU time, median of %d '
          'interleaved rounds' % (label, ROUNDS))
    print('  %-14s %8.1f' % ('re-scope ms', statistics.median(
        ratios.pop('re-scope ms'))))
    for name, values in ratios.items():
        print('  %-14s %8.2fx re-scope' % (name, statistics.median(values)))


if __name__ == '__main__':
    main()
