"""The cost of IGTF namespace checking on a verification.

One real proxy (``voms-proxy-fake``, 2 FQANs) verified uncached (result
cache off, trust material loaded once, as in a running Keystone) against a
CA directory of 150 CAs that each have a ``<hash>.namespaces`` and a
``<hash>.signing_policy`` written as the IGTF distribution writes them:

* ``on``: ``namespace_checking = eugridpma_globus`` (the default): every
  CA-issued certificate of the user's and the VOMS server's paths is
  matched against its CA's rules;
* ``off``: ``namespace_checking = ignore`` on the same directory (the
  fair baseline: the same files, nothing else differs).

Both verifiers live in this process; each round times a batch of calls of
each, in CPU time (``time.process_time``), the order swapped every round;
printed: medians per call and the median of the per-round ratios on/off.
Goal: <= 1.05x. Also printed: the time of one trust load (parsing the 300
policy files) with and without them, CPU time, median of 5 alternating
loads.
"""

import os
import statistics
import tempfile
import time

from tests.support.pki import GridPKI, igtf_namespaces, igtf_signing_policy
from voms_auth.voms import TrustStore, Verifier

FILLER_CAS = 147
FQANS = ['/dteam', '/dteam/ibergrid/Role=VM-Manager']
ROUNDS = int(os.environ.get('VOMS_AUTH_BENCH_ROUNDS', '15'))
CALLS = 200


def write_policies(pki):
    """Both policy files for every trusted CA: its own domain component
    (``/DC=org/DC=<org>/...``)."""
    for ca in pki.cas:
        if not ca.trusted:
            continue
        domain = '/'.join(ca.dn.split('/')[:3])
        (pki.ca_path / (ca.hash + '.namespaces')).write_text(
            igtf_namespaces(ca, [('SELF', 'PERMIT', domain + '/.*')]))
        (pki.ca_path / (ca.hash + '.signing_policy')).write_text(
            igtf_signing_policy([(ca.dn, [domain + '/*'])]))


def cpu_us(func, calls):
    start = time.process_time()
    for _ in range(calls):
        func()
    return (time.process_time() - start) / calls * 1e6


def main():
    with tempfile.TemporaryDirectory(prefix='bench-trust-') as tmp:
        pki = GridPKI(os.path.join(tmp, 'grid'))
        pki.add_filler_cas(FILLER_CAS)
        write_policies(pki)
        user = pki.new_user('Jane Doe')
        data = pki.make_proxy(user, fqans=FQANS).read_bytes()
        verifiers = {}
        for name, mode in (('on', 'eugridpma_globus'), ('off', 'ignore')):
            store = TrustStore(pki.ca_path, pki.vomsdir,
                               namespace_checking=mode,
                               refresh_interval=3600)
            verifiers[name] = Verifier(store, cache_size=0)
            assert list(verifiers[name].verify_pem(data).fqans) == FQANS
        snap = verifiers['on'].trust_store.snapshot()
        assert snap.namespaces is not None and not snap.problems, \
            snap.problems
        print('%d CAs, %d policy files' % (
            snap.ca_count, len(snap.namespaces.files)))

        figures = {'on': [], 'off': []}
        ratios = []
        for round_number in range(ROUNDS):
            # on/off, then off/on: neither always runs first
            order = ('on', 'off') if round_number % 2 else ('off', 'on')
            for name in order:
                verifier = verifiers[name]
                figures[name].append(
                    cpu_us(lambda v=verifier: v.verify_pem(data), CALLS))
            ratios.append(figures['on'][-1] / figures['off'][-1])
        print('uncached verification, CPU time, median of %d rounds of %d '
              'calls:' % (ROUNDS, CALLS))
        print('  namespace checking off (ignore):           %8.1f us'
              % statistics.median(figures['off']))
        print('  namespace checking on (eugridpma_globus):  %8.1f us'
              % statistics.median(figures['on']))
        print('  median per-round ratio on/off: %.3fx (goal <= 1.05x)'
              % statistics.median(ratios))

        loads = {'on': [], 'off': []}
        for _ in range(5):
            for name, mode in (('on', 'eugridpma_globus'),
                               ('off', 'ignore')):
                store = TrustStore(pki.ca_path, pki.vomsdir,
                                   namespace_checking=mode)
                start = time.process_time()
                store.snapshot()
                loads[name].append((time.process_time() - start) * 1e3)
        print('trust load (150 CAs, 150 CRLs), CPU time, median of 5: '
              '%.1f ms reading the 300 policy files, %.1f ms ignoring '
              'them' % (statistics.median(loads['on']),
                        statistics.median(loads['off'])))


if __name__ == '__main__':
    main()
