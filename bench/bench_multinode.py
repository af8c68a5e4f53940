"""Login throughput of the two-node cluster behind HAProxy.

The cluster of ``tox -e multinode`` (:class:`tests.support.multinode.
MultiNodeKeystone`): two Apache + mod_ssl + mod_gridsite + mod_wsgi nodes
(2 daemon processes x 8 threads each) on one MariaDB and one memcached,
HAProxy in TCP mode in front. Clients in this process send logins through
HAProxy, each on a fresh TLS connection (so HAProxy spreads them over the
nodes, and every VOMS login carries its proxy chain in a new handshake).

Variants, interleaved within each round (order rotated every round):

* ``voms repeat``: a person who logged in before logs in again with the
  same proxy (TLS client certificate), scoped to the mapped project;
* ``oidc repeat``: likewise with a JWT access token (``Authorization:
  Bearer``), validated against the provider's keys;
* ``password``: Keystone's own password method, scoped -- the baseline
  every site already runs (its cost is mostly bcrypt, Keystone's default
  password hash).

For concurrency 1, 8 and 32 (client threads), each round runs
``max(16, 2 x concurrency)`` logins of each variant. Printed per variant
and concurrency: logins per second (wall clock, median over rounds), p50
and p99 latency (all rounds pooled), and the server CPU time per login
(user + system time of every Apache/mod_wsgi process of both nodes from
``/proc``, which other work on the machine does not inflate), with the
median over rounds of the per-round ratio to ``password``. The machine's
cores are shared with the clients (TLS handshakes) and with other work:
throughput is indicative; the CPU figures are the stable ones. No goals
are asserted.

``python bench/run.py multinode`` (``tox -e bench -- multinode``) runs
only this benchmark; it needs the Debian packages of the multinode suite.
"""

import json
import os
import pathlib
import statistics
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import apache as apache_harness  # noqa: E402
from tests.support import multinode  # noqa: E402
from tests.support import pki as grid_pki  # noqa: E402

AUDIENCE = 'https://keystone.bench.example'
ENTITLEMENT = 'urn:mace:egi.eu:group:dteam:role=member#aai.egi.eu'
MAPPING = {
    'version': 1,
    'defaults': {'domain': 'Default', 'roles': ['member']},
    'rules': [{'match': {'vo': 'dteam'},
               'grant': {'project': 'dteam', 'create': True}}],
}
CONCURRENCY = (1, 8, 32)
ROUNDS = int(os.environ.get('VOMS_AUTH_BENCH_ROUNDS', '3'))
#: Distinct people per variant (each client thread picks one in turn).
PEOPLE = 8
_TICK = os.sysconf('SC_CLK_TCK')


def _cpu_seconds(pgids):
    """User + system CPU seconds of every process in ``pgids``."""
    total = 0
    for entry in os.scandir('/proc'):
        if not entry.name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry.name) as handle:
                fields = handle.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state): pgrp is field 5, utime/stime 14/15
        if int(fields[2]) in pgids:
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def _batch(login, count, concurrency):
    """``count`` logins over ``concurrency`` threads; (wall seconds,
    latencies)."""
    latencies, errors, lock = [], [], threading.Lock()
    todo = iter(range(count))

    def worker():
        while True:
            with lock:
                index = next(todo, None)
            if index is None:
                return
            start = time.perf_counter()
            response = login(index)
            elapsed = time.perf_counter() - start
            with lock:
                if response.status_code == 201:
                    latencies.append(elapsed)
                else:
                    errors.append((response.status_code,
                                   response.text[:200]))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if errors:
        raise RuntimeError('%d logins failed, e.g. %s' % (len(errors),
                                                          errors[:2]))
    return wall, latencies


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    reason = multinode.unavailable_reason()
    if reason:
        print('multinode benchmark skipped: %s' % reason)
        return
    from tests.support.oidc_provider import OpenIDProvider

    with tempfile.TemporaryDirectory(prefix='voms-auth-bench-mn-') as tmp:
        tmp = pathlib.Path(tmp)
        pki = grid_pki.GridPKI(tmp / 'grid')
        pki.rsa_ca = apache_harness.add_rsa_ca(pki)
        provider = OpenIDProvider().start()
        try:
            cluster = multinode.MultiNodeKeystone(
                tmp / 'cluster', pki=pki, mapping=MAPPING,
                issuers={'bench': {'issuer': provider.issuer,
                                   'audience': AUDIENCE}})
            with cluster:
                _run(cluster, pki, provider)
        finally:
            provider.close()


def _run(cluster, pki, provider):
    proxies = [pki.make_proxy(pki.new_user('Bench %d' % i, ca=pki.rsa_ca,
                                           org='rsa'), fqans=['/dteam'])
               for i in range(PEOPLE)]
    tokens = [provider.jwt_token('bench-%d' % i, AUDIENCE,
                                 entitlements=[ENTITLEMENT], ttl=3600)
              for i in range(PEOPLE)]
    variants = {
        'voms repeat': lambda i: cluster.voms_login(
            proxies[i % PEOPLE], project='dteam'),
        'oidc repeat': lambda i: cluster.oidc_login(
            tokens[i % PEOPLE], project='dteam'),
        'password': lambda i: cluster.password_login(),
    }
    # First logins (users, memberships) and warm-up of every process.
    for login in variants.values():
        _batch(login, 4 * PEOPLE, 8)
    pgids = {int(node.pid_file.read_text()) for node in cluster.nodes}
    print('two nodes x %d processes x %d threads, HAProxy TCP, MariaDB, '
          'memcached; %d rounds, variants interleaved'
          % (cluster.processes, cluster.threads, ROUNDS))
    print('%-12s %4s %9s %9s %9s %11s %10s' % (
        'variant', 'conc', 'logins/s', 'p50 ms', 'p99 ms', 'CPU ms/login',
        'CPU x pw'))
    names = list(variants)
    for concurrency in CONCURRENCY:
        count = max(16, 2 * concurrency)
        rates = {name: [] for name in names}
        latencies = {name: [] for name in names}
        cpu = {name: [] for name in names}
        for round_index in range(ROUNDS):
            order = names[round_index % len(names):] + \
                names[:round_index % len(names)]
            for name in order:
                before = _cpu_seconds(pgids)
                wall, lat = _batch(variants[name], count, concurrency)
                used = _cpu_seconds(pgids) - before
                rates[name].append(count / wall)
                latencies[name].extend(lat)
                cpu[name].append(used / count)
        for name in names:
            ratios = [mine / base for mine, base in
                      zip(cpu[name], cpu['password'], strict=True) if base]
            print('%-12s %4d %9.1f %9.1f %9.1f %11.1f %10.2f' % (
                name, concurrency, statistics.median(rates[name]),
                _percentile(latencies[name], 0.5) * 1000,
                _percentile(latencies[name], 0.99) * 1000,
                statistics.median(cpu[name]) * 1000,
                statistics.median(ratios) if ratios else float('nan')),
                flush=True)
    print(json.dumps({'served_by_node': cluster.served_by()}))


if __name__ == '__main__':
    main()
