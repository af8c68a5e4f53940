"""Throwaway grid trust material for tests, benchmarks and the demo.

``GridPKI(directory)`` builds, in ``directory``: a trusted root CA, an
issuing intermediate CA, a second trusted root (for "same DN from another
CA"), an untrusted CA, CRLs, a VOMS server for VO ``dteam`` listed in
``vomsdir/dteam/<host>.lsc``; then::

    pki = GridPKI(tmp_path)
    jane = pki.new_user('Jane Doe')               # under pki.issuing_ca
    path = pki.make_proxy(jane, fqans=['/dteam', '/dteam/ibergrid'])
    store = TrustStore(pki.ca_path, pki.vomsdir)
    pki.revoke(jane)                              # rewrites the CRL
    twin = pki.same_dn_user(jane)                 # same DN, pki.other_ca
    again = pki.delegate(path)                    # proxy of a proxy

Proxies are made by Debian's ``voms-proxy-fake`` (package voms-clients);
:meth:`GridPKI.delegate` makes, with ``cryptography``, the proxies it
cannot (proxies of proxies, forged or rule-breaking proxies).
"""

from voms_auth.testing.pki import (  # noqa: F401 - the public API
    CA,
    DEFAULT_VO,
    DEFAULT_VOMS_HOST,
    GridPKI,
    ProxyToolError,
    User,
    VomsServer,
    delegate,
    subject_hash,
    targets_extension,
)

__all__ = ['CA', 'GridPKI', 'ProxyToolError', 'User', 'VomsServer',
           'delegate', 'subject_hash', 'targets_extension', 'DEFAULT_VO',
           'DEFAULT_VOMS_HOST']
