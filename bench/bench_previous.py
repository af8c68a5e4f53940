"""The cost of the hostile-input checks (issue 10) on the normal path,
against the code before them, in the same run.

Both sides verify the same real proxy (``voms-proxy-fake``, 150 trusted
CAs) with the result cache off, and validate the same JWT access token
from the same real OpenID Provider with warm keys and no result cache:
signature, chain and CRLs, AC, claims, memberships, the ``Identity``. The
"previous" side is the tree at ``VOMS_AUTH_BENCH_BASE`` (default
``366a3e7``, the commit before the work on issues 9, 10 and 13), exported
with ``git archive``; each side runs in its own interpreter (one worker per
side, kept for the whole run) and the measurements alternate between them,
round by round. Figures are CPU time (``time.process_time``) per call;
printed: the median of the per-round ratios new/previous. Goal: <= 1.1x.
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASE = os.environ.get('VOMS_AUTH_BENCH_BASE', '366a3e7')
ROUNDS = int(os.environ.get('VOMS_AUTH_BENCH_ROUNDS', '7'))
CALLS = {'voms': 150, 'jwt': 600}
AUD = 'https://keystone.example.org'

#: The worker: reads one job per line ({"kind", "calls"}), answers the CPU
#: microseconds per call. Written against the API both trees share.
WORKER = r'''
import json, sys, time
spec = json.loads(sys.argv[1])
from voms_auth.voms import TrustStore, Verifier
from voms_auth.oidc import IssuerConfig, TokenValidator
verifier = Verifier(TrustStore(spec['ca_path'], spec['vomsdir']),
                    service_host='bench.example', cache_size=0)
data = open(spec['proxy'], 'rb').read()
try:
    validator = TokenValidator([IssuerConfig(spec['issuer'],
                                             audience=spec['aud'])],
                               cache_size=0)
except TypeError:  # the previous validator kept no result cache
    validator = TokenValidator([IssuerConfig(spec['issuer'],
                                             audience=spec['aud'])])
work = {'voms': lambda: verifier.verify_pem(data),
        'jwt': lambda: validator.validate(spec['token'])}
for f in work.values():
    f()
print('ready', flush=True)
for line in sys.stdin:
    job = json.loads(line)
    f, calls = work[job['kind']], job['calls']
    start = time.process_time()
    for _ in range(calls):
        f()
    print(json.dumps((time.process_time() - start) / calls * 1e6),
          flush=True)
'''


class Worker:
    """A Python process with one tree's ``voms_auth`` on its path."""

    def __init__(self, tree, spec):
        env = dict(os.environ, PYTHONPATH=str(tree))
        self.proc = subprocess.Popen(
            [sys.executable, '-c', WORKER, json.dumps(spec)], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            cwd=str(tree))
        line = self.proc.stdout.readline().strip()
        if line != 'ready':
            raise RuntimeError('worker for %s did not start' % tree)

    def measure(self, kind):
        self.proc.stdin.write(json.dumps({'kind': kind,
                                          'calls': CALLS[kind]}) + '\n')
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _export_base(directory):
    """The previous tree, or ``None`` (no git history here)."""
    archive = subprocess.run(['git', 'archive', BASE], cwd=ROOT,
                             capture_output=True, check=False)
    if archive.returncode != 0:
        return None
    directory.mkdir(parents=True)
    subprocess.run(['tar', '-x', '-C', str(directory)],
                   input=archive.stdout, check=True)
    return directory


def main():
    from tests.support.oidc_provider import OpenIDProvider
    from tests.support.pki import GridPKI

    with tempfile.TemporaryDirectory(prefix='voms-auth-prev-') as tmp:
        tmp = pathlib.Path(tmp)
        base = _export_base(tmp / 'base')
        if base is None:
            print('skipped: revision %s is not available (no git history)'
                  % BASE)
            return 0
        pki = GridPKI(tmp / 'grid')
        for i in range(147):
            pki.add_ca('Bench Extra CA %d' % i, org='extra%d' % i)
        user = pki.new_user('Bench Previous')
        proxy = pki.make_proxy(user, fqans=['/dteam', '/dteam/ibergrid'])
        with OpenIDProvider() as provider:
            token = provider.jwt_token('alice@egi.eu', AUD)
            spec = {'ca_path': str(pki.ca_path),
                    'vomsdir': str(pki.vomsdir), 'proxy': str(proxy),
                    'issuer': provider.issuer, 'aud': AUD, 'token': token}
            workers = {'previous': Worker(base, spec),
                       'new': Worker(ROOT, spec)}
            try:
                _run(workers)
            finally:
                for worker in workers.values():
                    worker.close()
    return 0


def _run(workers):
    ratios = {'voms': [], 'jwt': []}
    figures = {(side, kind): [] for side in workers for kind in ratios}
    for round_ in range(ROUNDS):
        for kind in ratios:
            order = ('previous', 'new') if round_ % 2 else ('new',
                                                           'previous')
            got = {side: workers[side].measure(kind) for side in order}
            for side, value in got.items():
                figures[(side, kind)].append(value)
            ratios[kind].append(got['new'] / got['previous'])
    names = {'voms': 'uncached VOMS verification',
             'jwt': 'JWT validation (warm keys)'}
    print('new checks on the normal path, CPU time, median of %d '
          'alternating rounds (previous = %s)' % (ROUNDS, BASE))
    for kind, values in ratios.items():
        print('  %-28s previous %7.1f us  new %7.1f us  ratio %.3fx '
              '(goal <= 1.1x)' % (
                  names[kind],
                  statistics.median(figures[('previous', kind)]),
                  statistics.median(figures[('new', kind)]),
                  statistics.median(values)))


if __name__ == '__main__':
    sys.exit(main())
