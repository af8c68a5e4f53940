"""Mapping file: evaluation per login by size, and the reload check.

CPU time (``time.process_time``), the variants interleaved round by round
(indexed N rules, indexed 10 rules, the old rules x memberships loop), and
the median of the per-round ratios; every figure beside its goal (issue
15). Asserts nothing.
"""

import datetime
import json
import os
import statistics
import tempfile
import time

from voms_auth import identity, mapping
from voms_auth.oidc import entitlements
from voms_auth.voms import fqan

ROUNDS = 5
SIZES = (10, 1000, 10000, 100000)
#: The old loop costs rules x memberships; beyond this it is not run.
OLD_LIMIT = 2000000
GOAL = 'goal: no cliff, about the 10-rule cost (<= 2x)'


def _rule(i):
    """Rule ``i`` of the benchmark mapping: one VO-wide rule per VO (the
    first 20), then group, role and entitlement rules of those VOs."""
    vo = 'vo%d' % (i % 20)
    kinds = [{'group': '/%s/g%d' % (vo, i)},
             {'group': '/%s' % vo, 'role': 'r%d' % i, 'kind': 'voms'},
             {'entitlement': 'urn:mace:egi.eu:group:%s:g%d#x' % (vo, i)}]
    match = {'vo': vo} if i < 20 else kinds[i % 3]
    return mapping.Rule('/rules/%d' % i, mapping.Match(**match),
                        mapping.Grant('%s-g%d' % (vo, i), 'Default',
                                      ('member',)))


def _mapping(size, cls=mapping.Mapping):
    return cls(source='bench', rules=tuple(_rule(i) for i in range(size)))


def _person(kind, count):
    """``count`` memberships, a few of which match rules of every size."""
    when = (datetime.datetime.now(datetime.timezone.utc)
            + datetime.timedelta(hours=1))
    if kind == 'voms':
        members = [fqan.parse_fqan('/vo%d/g%d/Role=r%d' % (i % 20, i, i))
                   for i in range(1, count + 1)]
    else:
        members = [entitlements.parse_entitlement(
            'urn:mace:egi.eu:group:vo%d:g%d#x' % (i % 20, i))
            for i in range(3, 4 * count, 4)][:count]
    return identity.Identity(kind, 'https://issuer', 'sub', 'name',
                             members, when)


class OldMapping(mapping.Mapping):
    """The evaluation before the index (the baseline variant): every deny
    entry and every rule x every membership."""

    def denied_by(self, identity_):
        return next((d for d in self.deny if d.match.matches(identity_)),
                    None)

    def _matches(self, identity_):
        matched = []
        for rule in self.rules:
            members = tuple(m for m in identity_.memberships
                            if rule.match.matches(identity_, m))
            if members:
                matched.append(mapping.RuleMatch(
                    rule.name, rule.description, members, rule.grant,
                    rule.match))
        return matched


def _cpu(func, number):
    """CPU seconds per call of ``func`` over ``number`` calls."""
    start = time.process_time()
    for _ in range(number):
        func()
    return (time.process_time() - start) / number


def _calls(cost_hint):
    """Calls per round that take roughly 20 ms of CPU."""
    return max(1, min(2000, int(0.02 / max(cost_hint, 1e-7))))


def _row(kind, size, count, small):
    """One line: indexed cost, ratio to 10 rules, the old loop's."""
    big = _mapping(size)
    old_mapping = OldMapping(source='bench', rules=big.rules)
    person = _person(kind, count)
    old_ok = size * count <= OLD_LIMIT
    variants = {'new': lambda: big.evaluate(person),
                'ten': lambda: small.evaluate(person)}
    if old_ok:
        variants['old'] = lambda: old_mapping.evaluate(person)
    number = {k: _calls(_cpu(f, 1)) for k, f in variants.items()}
    rounds = []
    for _ in range(ROUNDS):       # A B C A B C ...
        rounds.append({k: _cpu(f, number[k]) for k, f in variants.items()})
    new = statistics.median(r['new'] for r in rounds)
    ratio = statistics.median(r['new'] / r['ten'] for r in rounds)
    old = ('old rules x memberships %9.1f us (%7.2fx indexed)' % (
        statistics.median(r['old'] for r in rounds) * 1e6,
        statistics.median(r['old'] / r['new'] for r in rounds))
        if old_ok else 'old rules x memberships not run (> %d checks)'
        % OLD_LIMIT)
    print('evaluate %-4s %6d rules x %3d memberships: %8.1f us CPU, %5.2fx '
          'the 10-rule mapping [%s]; %s'
          % (kind, size, count, new * 1e6, ratio, GOAL, old), flush=True)


def _reload_figures():
    """``current()`` on the request path: never a parse (goal)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'mapping.json')
        with open(path, 'w') as handle:
            json.dump({'version': 1, 'defaults': {'roles': ['member']},
                       'rules': [{'match': {'group': '/vo/g%d' % i},
                                  'grant': {'project': 'p%d' % i}}
                                 for i in range(200)]}, handle)
        load = _cpu(lambda: mapping.load_mapping(path), 20)
        limited = _cpu(mapping.MappingFile(path, check_interval=5).current,
                       20000)
        stat = _cpu(mapping.MappingFile(path, check_interval=0).current,
                    2000)
    print('load_mapping, 200 rules:        %8.1f us CPU (in a background '
          'thread, never in a request: goal)' % (load * 1e6))
    print('MappingFile.current, no check:  %8.2f us CPU' % (limited * 1e6))
    print('MappingFile.current, stat only: %8.2f us CPU (1/%.0f of a load)'
          % (stat * 1e6, load / stat))


def main():
    small = _mapping(10)
    for size in SIZES:
        for kind, count in (('voms', 1), ('voms', 100), ('oidc', 100)):
            _row(kind, size, count, small)
    _reload_figures()


if __name__ == '__main__':
    main()
