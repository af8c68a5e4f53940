"""Mapping file: evaluation per login, and the cost of the reload check.

Figures per call; ratios against baselines measured in the same run
(a one-rule mapping; a full ``load_mapping``). Asserts nothing.
"""

import datetime
import functools
import json
import os
import tempfile
import timeit

from voms_auth import identity, mapping
from voms_auth.oidc import entitlements
from voms_auth.voms import fqan


def _doc(n):
    rules = []
    for i in range(n):
        vo = 'vo%d' % (i % 20)
        rules.append([
            {'match': {'vo': vo}, 'grant': {'project': vo}},
            {'match': {'group': '/%s/g%d' % (vo, i)},
             'grant': {'project': '%s-g%d' % (vo, i), 'create': True}},
            {'match': {'group': '/%s' % vo, 'role': 'admin%d' % i,
                       'kind': 'voms'},
             'grant': {'project': '%s-g%d' % (vo, i),
                       'roles': ['manager']}},
            {'match': {'entitlement': 'urn:mace:egi.eu:group:%s:g%d#x' % (
                vo, i)}, 'grant': {'project': '%s-g%d' % (vo, i)}},
        ][i % 4])
    return {'version': 1, 'defaults': {'roles': ['member']}, 'rules': rules}


def _person(kind):
    when = (datetime.datetime.now(datetime.timezone.utc)
            + datetime.timedelta(hours=1))
    if kind == 'voms':
        members = [fqan.parse_fqan(f) for f in (
            '/vo1/Role=NULL/Capability=NULL', '/vo1/g21/Role=NULL',
            '/vo1/Role=admin41', '/vo2/g2')]
    else:
        members = [entitlements.parse_entitlement(e) for e in (
            'urn:mace:egi.eu:group:vo3:g3#x',
            'urn:mace:egi.eu:group:vo1:g21:role=member#x')]
    return identity.Identity(kind, 'https://issuer', 'sub', 'name', members,
                             when)


def _per_call(func, number):
    return min(timeit.repeat(func, number=number, repeat=5)) / number


def main():
    one = mapping.parse_mapping(_doc(1))
    for size in (10, 200, 1000):
        big = mapping.parse_mapping(_doc(size))
        for kind in ('voms', 'oidc'):
            person = _person(kind)
            base = _per_call(functools.partial(one.evaluate, person), 2000)
            cost = _per_call(functools.partial(big.evaluate, person), 200)
            print('evaluate %-4s %4d rules: %8.1f us/login  (%.0fx the '
                  'one-rule mapping, %.2f us)'
                  % (kind, size, cost * 1e6, cost / base, base * 1e6))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'mapping.json')
        with open(path, 'w') as handle:
            json.dump(_doc(200), handle)
        load = _per_call(lambda: mapping.load_mapping(path), 20)
        cached = mapping.MappingFile(path, check_interval=5)
        limited = _per_call(cached.current, 20000)
        checking = mapping.MappingFile(path, check_interval=0)
        stat = _per_call(checking.current, 2000)
        print('load_mapping, 200 rules:        %8.1f us' % (load * 1e6))
        print('MappingFile.current, no check:  %8.2f us  (1/%.0f of a load)'
              % (limited * 1e6, load / limited))
        print('MappingFile.current, stat only: %8.2f us  (1/%.0f of a load)'
              % (stat * 1e6, load / stat))


if __name__ == '__main__':
    main()
