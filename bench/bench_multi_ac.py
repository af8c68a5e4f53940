"""Uncached verification of a proxy with two VOMS ACs against one AC.

Issue 14: every AC of a proxy is verified on its own (signature, LSC,
validity, holder, targets, FQANs); the chain, the user's CA path and its
CRLs are checked once. This prints the CPU time (``time.process_time``)
of one full verification of:

* ``one AC``: a proxy of Jane carrying her dteam AC (the baseline);
* ``two ACs``: the same kind of proxy carrying her dteam AND atlas ACs
  (``voms-proxy-init --voms dteam --voms atlas``);
* ``two ACs, one forged``: dteam and an atlas AC whose signature was
  flipped (verified, refused, logged, skipped).

Fair baseline: all three proxies are made the same way
(:func:`tests.support.pki.delegate` from voms-proxy-fake ACs, RSA proxy
key, SHA-256, one proxy deep), verified by ONE verifier with its result
cache off and the VOMS server paths remembered per trust generation, as
in a running Keystone. Variants are interleaved (A B C A B C ...), each
round a batch of calls; the ratios are medians of per-round ratios.

Goal (a figure, not an assertion): two ACs <= 2.0x one AC (the second AC
adds at most the cost of a second single-AC proxy's AC part).
"""

import logging
import statistics
import tempfile
import time

from tests.support.pki import GridPKI
from voms_auth.voms import TrustStore, Verifier

ROUNDS = 15
BATCH = 20
GOAL = 2.0


def _batch(verify, data):
    start = time.process_time()
    for _ in range(BATCH):
        verify(data)
    return (time.process_time() - start) / BATCH


def main():
    logging.getLogger('voms_auth').setLevel(logging.ERROR)  # the forged AC
    with tempfile.TemporaryDirectory() as root:
        pki = GridPKI(root)
        jane = pki.new_user('Jane Bench')
        atlas = pki.add_voms_server('atlas', 'voms.atlas.example.org')
        dteam_ac = pki.make_proxy(jane, fqans=['/dteam', '/dteam/ops'])
        atlas_ac = pki.make_proxy(jane, vo='atlas', server=atlas,
                                  fqans=['/atlas', '/atlas/prod'])
        variants = {
            'one AC': pki.delegate(jane, ac_from=[dteam_ac]),
            'two ACs': pki.delegate(jane, ac_from=[dteam_ac, atlas_ac]),
            'two ACs, one forged': pki.delegate(
                jane, ac_from=[atlas_ac, dteam_ac],
                corrupt_ac_signature=True),
        }
        data = {name: path.read_bytes() for name, path in variants.items()}
        verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir),
                            cache_size=0)
        for name, pem in data.items():      # warm up; check they verify
            credential = verifier.verify_pem(pem)
            print('%-20s %d valid AC(s), %d skipped' % (
                name, len(credential.acs), len(credential.rejected_acs)))
        times = {name: [] for name in data}
        for _ in range(ROUNDS):
            for name, pem in data.items():
                times[name].append(_batch(verifier.verify_pem, pem))
        base = times['one AC']
        print('uncached verification, CPU time, median of %d rounds x %d '
              'calls:' % (ROUNDS, BATCH))
        for name, values in times.items():
            ratio = statistics.median(v / b for v, b in zip(values, base,
                                                            strict=True))
            goal = ('  (goal <= %.1fx: %s)' % (
                GOAL, 'met' if ratio <= GOAL else 'MISSED')
                if name == 'two ACs' else '')
            print('  %-20s %8.0f us  %5.2fx one AC%s' % (
                name, statistics.median(values) * 1e6, ratio, goal))


if __name__ == '__main__':
    main()
