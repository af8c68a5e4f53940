"""The cost of IGTF namespace checking, and of a second AC, on a
verification.

Real proxies verified uncached (result cache off, trust material loaded
once, as in a running Keystone) against a CA directory of 150 CAs that
each have a ``<hash>.namespaces`` and a ``<hash>.signing_policy`` written
as the IGTF distribution writes them. Variants:

* ``1 AC, off``: a voms-proxy-fake proxy (one dteam AC, 2 FQANs),
  ``namespace_checking = ignore`` (the fair baseline: the same files,
  nothing else differs);
* ``1 AC, on``: the same proxy, ``namespace_checking = eugridpma_globus``
  (the default): every CA-issued certificate of the user's and the VOMS
  server's paths is matched against its CA's rules;
* ``2 ACs, on``: a proxy of the same user carrying two ACs (dteam and
  atlas, from two VOMS servers, as ``voms-proxy-init --voms dteam --voms
  atlas`` makes), namespace checking on.

All verifiers live in this process; each round times a batch of calls of
each variant, in CPU time (``time.process_time``), the order rotated every
round; printed: medians per call and the medians of the per-round ratios.
Goal: namespace checking on/off <= 1.05x. Also printed: the time of one
trust load (parsing the 300 policy files) with and without them, CPU time,
median of 5 alternating loads.
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
        atlas = pki.add_voms_server('atlas', 'voms.atlas.example.org')
        write_policies(pki)
        user = pki.new_user('Jane Doe')
        dteam_proxy = pki.make_proxy(user, fqans=FQANS)
        data = dteam_proxy.read_bytes()
        atlas_proxy = pki.make_proxy(user, vo='atlas', server=atlas,
                                     fqans=['/atlas', '/atlas/prod'])
        data2 = pki.delegate(user, ac_from=[dteam_proxy, atlas_proxy]
                             ).read_bytes()
        verifiers = {}
        for name, mode in (('on', 'eugridpma_globus'), ('off', 'ignore')):
            store = TrustStore(pki.ca_path, pki.vomsdir,
                               namespace_checking=mode,
                               refresh_interval=3600)
            verifiers[name] = Verifier(store, cache_size=0)
            assert list(verifiers[name].verify_pem(data).fqans) == FQANS
        assert [a.vo for a in verifiers['on'].verify_pem(data2).acs] == [
            'dteam', 'atlas']
        snap = verifiers['on'].trust_store.snapshot()
        assert snap.namespaces is not None and not snap.problems, \
            snap.problems
        print('%d CAs, %d policy files' % (
            snap.ca_count, len(snap.namespaces.files)))

        variants = {
            '1 AC, namespace checking off (ignore)':
                lambda: verifiers['off'].verify_pem(data),
            '1 AC, namespace checking on (eugridpma_globus)':
                lambda: verifiers['on'].verify_pem(data),
            '2 ACs, namespace checking on':
                lambda: verifiers['on'].verify_pem(data2)}
        names = list(variants)
        figures = {name: [] for name in names}
        on_off, two_one = [], []
        for round_number in range(ROUNDS):
            # rotate the order: no variant always runs first
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                figures[name].append(cpu_us(variants[name], CALLS))
            off, on, two = (figures[name][-1] for name in names)
            on_off.append(on / off)
            two_one.append(two / on)
        print('uncached verification, CPU time, median of %d rounds of %d '
              'calls:' % (ROUNDS, CALLS))
        for name in names:
            print('  %-48s %8.1f us' % (name,
                                         statistics.median(figures[name])))
        print('  median per-round ratio namespace checking on/off: %.3fx '
              '(goal <= 1.05x)' % statistics.median(on_off))
        print('  median per-round ratio 2 ACs / 1 AC (checking on): %.3fx'
              % statistics.median(two_one))

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
