"""VOMS proxy verification speed.

Prints microseconds per full verification of one voms-proxy-fake proxy
(2 FQANs) against a CA directory of about 150 CAs:

* ``uncached``: result cache off (every call walks the chain, checks CRLs,
  decodes and checks the AC); trust material loaded once, as in a running
  Keystone. The path validation of the VOMS server certificate (the same
  for every user of a VO) is remembered per trust generation; the line
  ``fresh verifier`` shows the cost without that too;
* ``cached``: the same proxy again with the result cache on;
* baseline, measured in the same run: libvomsapi's ``VOMS_Retrieve`` on the
  same proxy and directories (full verification), loaded with ctypes here
  only. Its PEM parsing is done outside the timed loop, ours inside.

Goals (figures, not assertions): uncached >= 20x faster than
VOMS_Retrieve, cached <= 50 us. Also prints the uncached cost with a
3-CA directory, to show the cost does not grow with the number of CAs.
"""

import ctypes
import os
import tempfile
import time

from tests.support.pki import GridPKI
from voms_auth.voms import TrustStore, Verifier

FILLER_CAS = 147          # + root, issuing, other = 150 trusted CAs
FQANS = ['/dteam', '/dteam/ibergrid/Role=VM-Manager']


def per_call_us(func, min_time=1.0, min_calls=50):
    """Median-free simple figure: total time / calls, after one warm-up."""
    func()
    calls, start = 0, time.perf_counter()
    while True:
        func()
        calls += 1
        elapsed = time.perf_counter() - start
        if calls >= min_calls and elapsed >= min_time:
            return elapsed / calls * 1e6


class VomsApi:
    """Just enough of libvomsapi (C API, voms_apic.h) and libcrypto to call
    VOMS_Retrieve on a proxy file."""

    RECURSE_CHAIN = 0

    def __init__(self, vomsdir, ca_path):
        self.crypto = ctypes.CDLL('libcrypto.so.3')
        self.voms = ctypes.CDLL('libvomsapi.so.1')
        c, v = self.crypto, self.voms
        c.BIO_new_mem_buf.restype = ctypes.c_void_p
        c.BIO_new_mem_buf.argtypes = [ctypes.c_char_p, ctypes.c_int]
        c.PEM_read_bio_X509.restype = ctypes.c_void_p
        c.PEM_read_bio_X509.argtypes = [ctypes.c_void_p] * 4
        c.BIO_free.argtypes = [ctypes.c_void_p]
        c.OPENSSL_sk_new_null.restype = ctypes.c_void_p
        c.OPENSSL_sk_push.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        v.VOMS_Init.restype = ctypes.c_void_p
        v.VOMS_Init.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        v.VOMS_Retrieve.restype = ctypes.c_int
        v.VOMS_Retrieve.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                    ctypes.c_int, ctypes.c_void_p,
                                    ctypes.POINTER(ctypes.c_int)]
        v.VOMS_ErrorMessage.restype = ctypes.c_char_p
        v.VOMS_ErrorMessage.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                        ctypes.c_char_p, ctypes.c_int]
        self.vd = v.VOMS_Init(os.fsencode(vomsdir), os.fsencode(ca_path))
        if not self.vd:
            raise RuntimeError('VOMS_Init failed')

    def load(self, pem):
        bio = self.crypto.BIO_new_mem_buf(pem, len(pem))
        certs = []
        while True:
            cert = self.crypto.PEM_read_bio_X509(bio, None, None, None)
            if not cert:
                break
            certs.append(cert)
        self.crypto.BIO_free(bio)
        stack = self.crypto.OPENSSL_sk_new_null()
        for cert in certs:
            self.crypto.OPENSSL_sk_push(stack, cert)
        return certs[0], stack

    def retrieve(self, cert, stack):
        error = ctypes.c_int(0)
        ok = self.voms.VOMS_Retrieve(cert, stack, self.RECURSE_CHAIN,
                                     self.vd, ctypes.byref(error))
        if not ok:
            message = self.voms.VOMS_ErrorMessage(self.vd, error.value,
                                                  None, 0)
            raise RuntimeError('VOMS_Retrieve failed (%d): %s' % (
                error.value, (message or b'').decode(errors='replace')))


def main():
    with tempfile.TemporaryDirectory(prefix='bench-voms-') as tmp:
        small = GridPKI(os.path.join(tmp, 'small'))
        started = time.perf_counter()
        pki = GridPKI(os.path.join(tmp, 'big'))
        pki.add_filler_cas(FILLER_CAS)
        print('built a PKI of %d trusted CAs in %.1f s'
              % (len(os.listdir(pki.ca_path)) // 2,
                 time.perf_counter() - started))
        user = pki.new_user('Jane Doe')
        data = pki.make_proxy(user, fqans=FQANS).read_bytes()
        small_data = small.make_proxy(small.new_user('Jane Doe'),
                                      fqans=FQANS).read_bytes()

        store = TrustStore(pki.ca_path, pki.vomsdir)
        started = time.perf_counter()
        store.snapshot()
        print('first load of the trust material: %.1f ms'
              % ((time.perf_counter() - started) * 1e3))
        uncached = Verifier(store, cache_size=0)
        assert list(uncached.verify_pem(data).fqans) == FQANS
        cached = Verifier(store)
        small_verifier = Verifier(TrustStore(small.ca_path, small.vomsdir),
                                  cache_size=0)

        t_uncached = per_call_us(lambda: uncached.verify_pem(data))
        t_cached = per_call_us(lambda: cached.verify_pem(data),
                               min_calls=1000)
        t_small = per_call_us(lambda: small_verifier.verify_pem(small_data))
        t_fresh = per_call_us(
            lambda: Verifier(store, cache_size=0).verify_pem(data))
        print('voms-auth uncached: %8.1f us per verification (150 CAs)'
              % t_uncached)
        print('voms-auth uncached: %8.1f us per verification (150 CAs, '
              'fresh verifier: VOMS server path validated too)' % t_fresh)
        print('voms-auth uncached: %8.1f us per verification (3 CAs); '
              '150/3 CAs ratio %.2f' % (t_small, t_uncached / t_small))
        print('voms-auth cached:   %8.1f us per verification (goal <= 50)'
              % t_cached)

        try:
            api = VomsApi(pki.vomsdir, pki.ca_path)
            cert, stack = api.load(data)
            api.retrieve(cert, stack)
        except (OSError, RuntimeError, AttributeError) as exc:
            print('baseline VOMS_Retrieve unavailable: %s' % exc)
            return
        t_voms = per_call_us(lambda: api.retrieve(cert, stack),
                             min_calls=20)
        print('libvomsapi VOMS_Retrieve: %8.1f us per verification'
              % t_voms)
        print('ratio VOMS_Retrieve / voms-auth uncached: %.1fx (goal >= 20x)'
              % (t_voms / t_uncached))
        print('ratio VOMS_Retrieve / voms-auth fresh verifier: %.1fx'
              % (t_voms / t_fresh))
        print('ratio VOMS_Retrieve / voms-auth cached:   %.1fx'
              % (t_voms / t_cached))


if __name__ == '__main__':
    main()
