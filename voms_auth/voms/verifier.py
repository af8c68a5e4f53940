"""VOMS proxy verification: chain, revocation, attribute certificate.

:class:`Verifier` checks, in order:

1. the RFC 3820 proxy chain down to the user's certificate (EEC)
   (:mod:`voms_auth.voms.proxy`);
2. the EEC's path to a CA of the trust dir (``cryptography``'s X.509 path
   validation), then the CRL of the issuer of **every** CA-issued
   certificate on that path;
3. **every** VOMS AC of the first proxy carrying a VOMS extension
   (presented proxy first), each on its own: VO known in vomsdir, the VOMS
   server certificate the AC carries (chain + CRLs, listed by an LSC file or
   present in vomsdir), the AC signature, validity (clock skew tolerated
   at its start only),
   holder, targets, critical extensions, FQANs of its own VO.

An AC that fails a check grants nothing: it is logged with its reason and
skipped (:attr:`VomsCredential.rejected_acs`) when another AC of the proxy
is valid; when none is valid the proxy is refused with the first AC's
error. The memberships of every valid AC count.

Successful results are kept in ONE bounded in-process cache
(:class:`~voms_auth.cache.MemoryCache`) keyed on the texts received (before
any parsing), for as long as every part stays valid, ``cache_ttl`` seconds
at most, and only while the trust material is unchanged: a new CRL or
vomsdir file (a new trust store generation) empties it, so revocation takes
effect at the first request after the new material is swapped in.

Uncached, the CA-to-root part of a path is verified once per trust
snapshot (:func:`_ca_link`); per call only the presented certificates'
signatures (proxy, user certificate, AC) are checked, plus the rules.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import threading
import time
from typing import Optional, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import verification
from cryptography.x509.verification import Criticality, ExtensionPolicy

from voms_auth import identity
from voms_auth.cache import MemoryCache, memoized
from voms_auth.errors import VomsAuthError, printable
from voms_auth.voms import ac, der, errors, fqan, proxy, robots
from voms_auth.voms import certs as certs_mod
from voms_auth.voms import crl as crl_rules
from voms_auth.voms.credential import RejectedAC, VerifiedAC, VomsCredential
from voms_auth.voms.names import LazyDN, name_der, slash_dn
from voms_auth.voms.pem import split_complete
from voms_auth.voms.records import built

LOG = logging.getLogger(__name__)
UTC = datetime.timezone.utc
_FOREVER = datetime.datetime.max.replace(tzinfo=UTC)
_TICK = datetime.timedelta(microseconds=1)

# AC signature algorithms: OID -> (hash, key kind: proxy.key_kind).
_AC_SIGNATURES = {
    '1.2.840.113549.1.1.5': (hashes.SHA1, 'rsa'),
    '1.2.840.113549.1.1.11': (hashes.SHA256, 'rsa'),
    '1.2.840.113549.1.1.12': (hashes.SHA384, 'rsa'),
    '1.2.840.113549.1.1.13': (hashes.SHA512, 'rsa'),
    '1.2.840.10045.4.3.2': (hashes.SHA256, 'ec'),
    '1.2.840.10045.4.3.3': (hashes.SHA384, 'ec'),
    '1.2.840.10045.4.3.4': (hashes.SHA512, 'ec'),
}


def _ca_key_usage(policy, cert, ext):
    if ext is not None and not ext.key_cert_sign:
        raise ValueError('CA key usage does not allow keyCertSign')


# Grid CAs (IGTF) and user certificates vary in their extensions more than
# the Web PKI profile allows; what matters for path validation is kept:
# issuers must be CAs (basicConstraints CA:TRUE, which cryptography
# enforces itself) whose key usage, when stated, allows keyCertSign.
# Signatures, names, validity and path length are checked by cryptography.
_CA_POLICY = (ExtensionPolicy.permit_all()
              .require_present(x509.BasicConstraints, Criticality.AGNOSTIC,
                               None)
              .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC,
                              _ca_key_usage))
_EE_POLICY = ExtensionPolicy.permit_all()

PemInput = certs_mod.PemInput


class Verifier:
    """Verifies VOMS proxies against a :class:`TrustStore`.

    :param trust_store: a :class:`~voms_auth.voms.TrustStore`.
    :param service_host: this service's host name, matched against AC
        targets; an AC with targets is refused when it is ``None``.
    :param cache_size: number of successful results kept (0: no cache).
    :param cache_ttl: seconds a result is reused at most; never past the
        credential's expiry nor past a trust store change.
    :param pusp_robots: the robots whose per-user sub-proxies are distinct
        people (:class:`~voms_auth.voms.robots.PuspRobots`; none: every
        robot's proxies are the robot).
    """

    def __init__(self, trust_store, *, service_host: Optional[str] = None,
                 cache_size: int = 1024, cache_ttl: float = 300.0,
                 pusp_robots: Optional[robots.PuspRobots] = None):
        self.trust_store = trust_store
        self.pusp_robots = pusp_robots or robots.PuspRobots()
        self.service_host = service_host.lower() if service_host else None
        self.cache_size = cache_size
        self.cache_ttl = cache_ttl
        self._cache = MemoryCache(cache_size) if cache_size else None
        self._cache_generation = None
        self._server_paths = {}
        self._server_paths_lock = threading.Lock()

    # -- public API ---------------------------------------------------------

    def verify_pem(self, data: PemInput,
                   at: Optional[datetime.datetime] = None) -> VomsCredential:
        """Verify a proxy file as voms-proxy-init writes it (proxy
        certificate, private key, rest of the chain). The key is skipped
        and never logged.

        :raises VomsError: (a subclass) when the credential is refused.
        :raises TrustStoreError: when the trust material is unusable.
        """
        data = certs_mod.pem_bytes(data)
        at = _instant(at)
        snap = self.trust_store.snapshot()
        # the cache is keyed on the bytes received, before any parsing
        key = ('file', data) if len(data) <= _TEXT_KEY_BYTES else \
            hashlib.sha256(b'file\0' + data).digest()
        hit = self._cache_get(key, snap.generation, at)
        if hit is not None:
            return hit
        blocks, complete = split_complete(data)
        if not complete:
            raise errors.MalformedCredential(
                'the input is truncated: a PEM block has no END line')
        if not blocks:
            raise errors.MalformedCredential(
                'no PEM certificate found in the input')
        # (the blocks are bytes, each at most one byte longer than
        # ``data``: only their number is left to check, unless ``data``
        # fills the size limit, see _pem_list)
        if len(blocks) > certs_mod.MAX_CERTIFICATES or \
                len(data) >= certs_mod.MAX_PEM_BYTES:
            blocks = _pem_list(blocks)
        return self._verify_uncached(key, blocks, at, snap)

    def verify_chain(self, certs: Sequence[PemInput],
                     at: Optional[datetime.datetime] = None
                     ) -> VomsCredential:
        """Verify a proxy (first) and the rest of its chain (any order),
        each a PEM certificate, as mod_ssl passes them (``SSL_CLIENT_CERT``,
        ``SSL_CLIENT_CERT_CHAIN_n``).

        A repeat of a chain already verified costs one cache lookup keyed
        on the texts received: nothing is parsed.

        :param at: aware datetime to verify as of (default: now).
        :raises VomsError: (a subclass) when the credential is refused.
        :raises TrustStoreError: when the trust material is unusable.
        """
        at = _instant(at)
        snap = self.trust_store.snapshot()
        key = _chain_key(certs)
        if key is not None:
            hit = self._cache_get(key, snap.generation, at)
            if hit is not None:
                return hit
        pems = _pem_list(certs)
        if key is None:
            key = hashlib.sha256(b'\0'.join(pems)).digest()
        return self._verify_uncached(key, pems, at, snap)

    def _verify_uncached(self, key, pems, at, snap):
        """Full verification of PEM texts ``pems``; a success is cached
        under ``key``."""
        parsed = ()
        try:
            parsed = certs_mod.load_chain(pems)
            credential, window = self._verify(parsed, at, snap)
        except VomsAuthError:
            raise
        except Exception as exc:  # noqa: BLE001 - fail closed, see below
            raise _unforeseen(exc) from None
        finally:
            # nothing of the call outlives it (see certs.forget)
            certs_mod.forget(parsed)
        self._cache_put(key, snap.generation, window, credential)
        return credential

    # -- the checks ---------------------------------------------------------

    def _verify(self, certs, at, snap):
        store = self.trust_store
        skew = store.clock_skew
        chain = proxy.walk_proxies(certs, at, skew)
        eec = chain.eec
        path, (valid_from, expires_at) = self._validate_path(
            eec, chain.others, at, snap, 'user')
        for proxy_from, proxy_until in map(certs_mod.validity,
                                           chain.proxies):
            valid_from = max(valid_from, proxy_from - skew)
            expires_at = min(expires_at, proxy_until)
        valid_until = min(expires_at, self._check_crls(path, at, snap))

        verified, rejected = [], []
        for index, attribute_cert in enumerate(_find_acs(chain)):
            try:
                server_path = self._check_ac(attribute_cert, eec, at, snap)
            except errors.VomsError as exc:
                rejected.append((index, attribute_cert, exc))
                continue
            verified.append((attribute_cert, server_path))
        if not verified:
            raise _no_valid_ac(rejected)
        for index, attribute_cert, exc in rejected:
            LOG.warning('skipping AC %d (VO %s) of the proxy of %s, which '
                        'grants nothing: %s', index,
                        printable(attribute_cert.vo), printable(
                            slash_dn(eec.subject)), exc)
            if at < attribute_cert.not_before - skew:
                # it becomes valid later: do not cache past that instant
                valid_until = min(valid_until,
                                  attribute_cert.not_before - skew)
        acs = []
        for attribute_cert, server_path in verified:
            # (the server path's verdict bound, which is never past the
            # end of its certificates, and that end: from its memo)
            until, ends = self._server_path_until(server_path, at, snap)
            valid_until = min(valid_until, until)
            expires_at = min(expires_at, ends)
            expires_at = min(expires_at, attribute_cert.not_after)
            valid_until = min(valid_until, attribute_cert.not_after)
            valid_from = max(valid_from, attribute_cert.not_before - skew)
            acs.append(_verified_ac(attribute_cert, server_path[0]))

        user = certs_mod.subject_dn(eec)
        user_ca = certs_mod.issuer_dn(eec)
        # (acs holds one AC at least: what VomsCredential checks)
        credential = built(VomsCredential, dict(
            user=user, user_ca=user_ca,
            expires_at=expires_at, user_serial=certs_mod.serial(eec),
            **VomsCredential.for_proxy(certs_mod.der_of(certs[0])),
            proxy_depth=len(chain.proxies), acs=tuple(acs),
            rejected_acs=tuple(
                RejectedAC(index=i, vo=a.vo, reason=str(e))
                for i, a, e in rejected),
            robot=robots.is_robot(user),
            pusp_subject=self._pusp_subject(user, user_ca, chain)))
        # the user's certificate (and any proxy above the presented one)
        # comes back at the next login: not decoded or checked again
        for cert in (eec, *chain.proxies[1:]):
            certs_mod.remember(cert)
        # (and so do the extensions of every proxy the person makes)
        for cert in chain.proxies:
            certs_mod.remember_extensions(cert)
        if LOG.isEnabledFor(logging.DEBUG):
            LOG.debug('verified VOMS proxy of %s (VOs %s, %d FQANs, %d '
                      'AC(s) skipped)', printable(credential.user),
                      printable(', '.join(a.vo for a in acs)),
                      len(credential.all_fqans), len(rejected))
        return credential, (valid_from, valid_until)

    def _pusp_subject(self, user, user_ca, chain):
        """The PUSP DN when ``user`` is a listed robot (the first proxy's
        subject is read only then)."""
        if not self.pusp_robots.listed(user, user_ca):
            return None
        return self.pusp_robots.pusp_subject(
            user, user_ca, certs_mod.subject_dn(chain.proxies[-1]))

    def _validate_path(self, leaf, presented, at, snap, what):
        """X.509 path of ``leaf`` to an anchor: ``([leaf, ..., anchor],
        (latest notBefore, earliest notAfter) of its certificates)``.

        First through a CA of the directory whose own path to its anchor
        was verified once for this trust snapshot (:func:`_ca_link`): only
        ``leaf``'s signature and profile are checked then. Anything else
        (a presented intermediate, a CA whose link is not settled) takes
        the full path validation below, which also words the refusals.
        """
        found = _fast_path(leaf, at, snap)
        if found is None:
            path = self._full_path(leaf, presented, at, snap, what)
            windows = [certs_mod.validity(c) for c in path]
            found = path, (max(w[0] for w in windows),
                           min(w[1] for w in windows))
        if snap.namespaces is not None:
            snap.namespaces.check(found[0], what)
        return found

    def _full_path(self, leaf, presented, at, snap, what):
        """:meth:`_validate_path` by ``cryptography``'s path validation
        over the directory's anchors, with a worded refusal for each
        reason."""
        if snap.anchors is None:
            raise errors.UntrustedCA(
                'the %s certificate %s was issued by %s, but the CA '
                'directory %s holds no CA' % (
                    what, slash_dn(leaf.subject), slash_dn(leaf.issuer),
                    self.trust_store.ca_path),
                public='the %s certificate %s was issued by %s, but the '
                       'server trusts no CA' % (
                           what, slash_dn(leaf.subject),
                           slash_dn(leaf.issuer)))
        intermediates = [c for c in presented if c != leaf]
        # CAs of the directory on the way up (by subject: cost does not
        # depend on how many CAs the directory holds).
        up, top = _directory_cas_above(leaf, snap)
        intermediates.extend(up)
        if top is not None and top.issuer != top.subject and \
                not snap.ca_by_subject.get(name_der(top.issuer)):
            raise errors.UntrustedCA(
                'the %s certificate %s chains to the CA %s in %s, whose '
                'issuer %s is not in that directory: a CA is a trust anchor '
                'only if it is self-signed (install the issuer\'s '
                'certificate)' % (what, slash_dn(leaf.subject),
                                  slash_dn(top.subject),
                                  self.trust_store.ca_path,
                                  slash_dn(top.issuer)),
                public='the %s certificate %s chains to the CA %s, whose '
                       'issuer %s the server does not trust' % (
                           what, slash_dn(leaf.subject),
                           slash_dn(top.subject), slash_dn(top.issuer)))
        if not snap.issuers_of(leaf) and not any(
                c.subject == leaf.issuer for c in presented):
            raise errors.UntrustedCA(
                'the %s certificate %s was issued by %s, which is not a '
                'trusted CA in %s' % (what, slash_dn(leaf.subject),
                                      slash_dn(leaf.issuer),
                                      self.trust_store.ca_path),
                public='the %s certificate %s was issued by %s, which is '
                       'not a trusted CA' % (what, slash_dn(leaf.subject),
                                             slash_dn(leaf.issuer)))
        if at > leaf.not_valid_after_utc:
            raise errors.CertificateExpired(
                'the %s certificate %s expired at %s' % (
                    what, slash_dn(leaf.subject),
                    leaf.not_valid_after_utc.isoformat()))
        if at < leaf.not_valid_before_utc:
            raise errors.CertificateNotYetValid(
                'the %s certificate %s is not valid before %s' % (
                    what, slash_dn(leaf.subject),
                    leaf.not_valid_before_utc.isoformat()))
        try:
            verified = _path_verifier(snap.anchors, at).verify(
                leaf, intermediates)
        except verification.VerificationError as exc:
            raise errors.CertificateInvalid(
                'the %s certificate %s (issued by %s) does not chain to a '
                'trusted CA: %s' % (what, slash_dn(leaf.subject),
                                    slash_dn(leaf.issuer), exc)) from None
        return list(verified.chain)

    def _server_path(self, server, extra, at, snap):
        """:meth:`_validate_path` + CRLs of a VOMS server certificate,
        remembered per trust generation: every AC of a VO carries the same
        server certificate, so its path is validated once, not per user."""
        entry = self._server_entry(server, snap)
        if entry is not None:
            path, valid_from, valid_until, _ = entry
            if valid_from <= at <= valid_until:
                return path
        path, (valid_from, ends) = self._validate_path(
            server, extra, at, snap, 'VOMS server')
        crl_until = self._check_crls(path, at, snap)
        with self._server_paths_lock:
            if len(self._server_paths) >= 256:
                self._server_paths.clear()
            # keyed by object (the AC decoder hands out one object per
            # server certificate); the entry holds it, so the id stays its
            self._server_paths[(snap.generation, id(server))] = (
                server, path, valid_from, min(crl_until, ends), ends)
        return path

    def _server_entry(self, server, snap):
        """(path, valid from, valid until, end of its certificates)
        remembered for ``server``."""
        entry = self._server_paths.get((snap.generation, id(server)))
        if entry is None or entry[0] is not server:
            return None
        return entry[1:]

    def _server_path_until(self, path, at, snap):
        """(until when the server ``path``'s verdict holds, when its first
        certificate ends); ``at`` for the first when it is no longer
        remembered (another thread's clearing: not cached then)."""
        entry = self._server_entry(path[0], snap)
        if entry is None:
            return at, min(c.not_valid_after_utc for c in path)
        return entry[2], entry[3]

    def _check_crls(self, path, at, snap):
        """Revocation of every CA-issued certificate of ``path``, as
        OpenSSL checks it: the issuer's complete CRLs that cover the
        certificate and are not future-dated; revoked in ANY of them is
        refused.
        Returns the earliest instant one of these verdicts may change (the
        latest nextUpdate of each certificate's CRLs, and the instant a
        future-dated CRL of its issuer comes in force; for the caches).

        A link's verdict is remembered for the snapshot (its CRLs do not
        change) while it holds: until its CRLs' latest nextUpdate, and
        until a future-dated CRL of the issuer comes in force. A refusal
        is never remembered, nor a verdict that used a grace period or an
        expired CRL (their warning is logged at every use)."""
        earliest = _FOREVER
        skew = self.trust_store.clock_skew
        # future-dated: issued after both now and ``at`` (an archived proxy
        # checked ``at`` a past instant still uses today's CRLs)
        latest = max(at, datetime.datetime.now(UTC)) + skew
        memo = snap.memo.setdefault(_CRL_LINKS, {})
        for cert, issuer in zip(path, path[1:], strict=False):
            key, held = _crl_link_key(cert, issuer)
            found = memo.get(key)
            if found is not None and found[0] is issuer and \
                    found[1] is held and latest < found[3] and \
                    at <= found[2] and found[5] == skew:
                earliest = min(earliest, found[4])
                continue
            crls, comes_in_force = self._crls_in_force(cert, issuer, latest,
                                                       snap)
            for crl in crls:
                _refuse_revoked(snap, crl, cert, issuer)
            # (a CRL that comes in force may revoke: no verdict, cached
            # here or by the caller, outlives that instant)
            earliest = min(earliest, _until_in_force(comes_in_force, skew))
            ends = max(_crl_facts(snap, c)[2] for c in crls)
            if at <= ends:
                if len(memo) >= _CRL_LINKS_SIZE:
                    memo.clear()
                # (with the bound a hit gives: ends, and the instant a
                # future-dated CRL counts under this skew)
                memo[key] = (issuer, held, ends, comes_in_force,
                             min(ends, _until_in_force(comes_in_force, skew)),
                             skew)
                earliest = min(earliest, ends)
            else:
                earliest = min(earliest, self._crl_until(crls, issuer, at,
                                                         snap))
        return earliest

    def _crls_in_force(self, cert, issuer, latest, snap):
        """(the complete CRLs of ``issuer`` that cover ``cert`` and were
        issued by ``latest``, the earliest thisUpdate of one issued later
        or ``_FOREVER``).

        :raises CRLMissing: there is none.
        """
        crls, later = [], _FOREVER
        for crl in snap.crls_for(issuer):
            scoped, this_update, _ = _crl_facts(snap, crl)
            if this_update > latest:
                later = min(later, this_update)
            elif not scoped or crl_rules.covers(crl, cert):
                crls.append(crl)
        if not crls:
            raise errors.CRLMissing(
                'no valid CRL of %s (which issued %s) in %s: '
                'run fetch-crl' % (slash_dn(issuer.subject),
                                   slash_dn(cert.subject),
                                   self.trust_store.ca_path),
                public='no valid CRL of %s (which issued %s) '
                       'on the server' % (slash_dn(issuer.subject),
                                          slash_dn(cert.subject)))
        return crls, later

    def _crl_until(self, crls, issuer, at, snap):
        """The latest nextUpdate of ``crls`` (``_FOREVER`` if one has
        none), extended by the CA's CRL grace period when ``at`` is past
        it (logged as a warning on every such use).

        :raises CRLExpired: all of them are past it and its grace period,
            unless expired CRLs are allowed.
        """
        ends = [_crl_facts(snap, c)[2] for c in crls]
        latest = max(ends)
        if at <= latest:
            return latest
        store = self.trust_store
        ca_hash = snap.crl_file_hash.get(id(crls[ends.index(latest)]))
        grace = store.crl_grace(ca_hash)
        if grace and at <= latest + grace:
            LOG.warning(
                'CRL IN GRACE: the CRL of %s (%s.r*) expired at %s; it is '
                'used until %s (CRL grace period %d s): run fetch-crl',
                printable(slash_dn(issuer.subject)), ca_hash,
                latest.isoformat(), (latest + grace).isoformat(),
                grace.total_seconds())
            return latest + grace
        if not store.allow_expired_crl:
            raise errors.CRLExpired(
                'the CRL of %s expired at %s%s: run fetch-crl (or allow '
                'expired CRLs in the configuration)' % (
                    slash_dn(issuer.subject), latest.isoformat(),
                    ' and its grace period of %d s ended at %s' % (
                        grace.total_seconds(),
                        (latest + grace).isoformat()) if grace else ''))
        LOG.warning('accepting the expired CRL of %s',
                    printable(slash_dn(issuer.subject)))
        return _FOREVER

    def _check_ac(self, attribute_cert, eec, at, snap):
        """All AC checks; returns the VOMS server's certificate path."""
        vo = attribute_cert.vo
        if not vo:
            raise errors.MalformedAC('the AC names no VO (no policy '
                                     'authority in its FQAN attribute)')
        if not _is_vo_name(vo):
            raise errors.MalformedAC('the AC names an invalid VO %r' % vo)
        vo_dir = snap.vos.get(vo)
        if vo_dir is None:
            raise errors.UnknownVO(
                'the AC is for VO %s, which has no directory in %s'
                % (vo, self.trust_store.vomsdir),
                public='the AC is for VO %s, which this server does not '
                       'trust' % vo)
        issuer_ders = attribute_cert.issuer_names
        if not issuer_ders:
            raise errors.MalformedAC('the AC names no issuer')
        server, extra = _server_cert(attribute_cert, vo_dir, issuer_ders)
        if server is None:
            raise errors.ACServerNotTrusted(
                'the AC of VO %s carries no certificate of its issuer and '
                'none is in %s/%s' % (vo, self.trust_store.vomsdir, vo),
                public='the AC of VO %s carries no certificate of its '
                       'issuer and the server has none' % vo)
        issuer_dn = LazyDN(server.subject)
        server_path = self._server_path(server, extra, at, snap)
        if vo_dir.lsc or not vo_dir.certificates:
            if not _lsc_lists_remembered(vo_dir, server_path, snap):
                raise errors.ACServerNotTrusted(
                    'AC signed by %s, which no LSC file in %s/%s lists%s' % (
                        issuer_dn, self.trust_store.vomsdir, vo,
                        _lsc_diagnosis(vo_dir, server_path,
                                       attribute_cert.uri)),
                    public='AC signed by %s, which no LSC file of VO %s '
                           'lists' % (issuer_dn, vo))
        elif server not in vo_dir.certificates:
            raise errors.ACServerNotTrusted(
                'AC signed by %s, whose certificate is not in %s/%s'
                % (issuer_dn, self.trust_store.vomsdir, vo),
                public='AC signed by %s, which is not a trusted VOMS '
                       'server of VO %s' % (issuer_dn, vo))
        _check_ac_signature(attribute_cert, server)
        skew = self.trust_store.clock_skew
        if at < attribute_cert.not_before - skew:
            raise errors.ACNotYetValid(
                'the AC of VO %s is not valid before %s' % (
                    vo, attribute_cert.not_before.isoformat()))
        # no skew at the end: an AC cannot be revoked, its end is the only
        # bound the VO has on the roles it states (see doc/source/voms.rst)
        if at > attribute_cert.not_after:
            raise errors.ACExpired('the AC of VO %s expired at %s' % (
                vo, attribute_cert.not_after.isoformat()))
        _check_holder(attribute_cert, eec)
        if attribute_cert.unknown_critical:
            raise errors.ACUnknownCriticalExtension(
                'the AC has unknown critical extension(s) %s'
                % ', '.join(attribute_cert.unknown_critical))
        self._check_targets(attribute_cert)
        if not attribute_cert.fqans:
            raise errors.MalformedAC('the AC of VO %s holds no FQAN' % vo)
        for value in attribute_cert.fqans:
            try:
                membership = _membership(value)
            except fqan.InvalidFQAN as exc:
                raise errors.MalformedAC('the AC holds an invalid FQAN: %s'
                                         % exc) from None
            if membership.vo != vo:
                raise errors.MalformedAC(
                    'the AC of VO %s states FQAN %s of another VO'
                    % (vo, value))
        return server_path

    def _check_targets(self, attribute_cert):
        targets = attribute_cert.targets
        if targets is None:
            return
        shown = ', '.join(targets) or 'no service'
        if self.service_host is None:
            raise errors.ACTargetMismatch(
                'the AC is targeted at %s, and no service host name is '
                'configured to match' % shown)
        for target in targets:
            host = target.lower()
            if '://' in host:
                host = host.split('://', 1)[1]
            host = host.split('/', 1)[0].split(':', 1)[0]
            if host == self.service_host:
                return
        raise errors.ACTargetMismatch(
            'the AC is targeted at %s, not at this service (%s)'
            % (shown, self.service_host))

    # -- result cache -------------------------------------------------------

    def _cache_get(self, key, generation, at):
        """The cached credential of ``key`` valid ``at``, or ``None``; the
        whole cache is dropped when the trust store ``generation``
        changed."""
        if self._cache is None:
            return None
        if generation != self._cache_generation:
            self._cache.clear()
            self._cache_generation = generation
            return None
        entry = self._cache.get(key)
        if entry is None:
            return None
        gen, (valid_from, valid_until), credential = entry
        if gen == generation and valid_from <= at <= valid_until:
            return credential
        return None

    def _cache_put(self, key, generation, window, credential):
        """Keep ``credential`` (valid within ``window``) until the earliest
        of its window's end, its expiry and ``cache_ttl`` from now."""
        if self._cache is None:
            return
        now = time.time()
        expires = min(window[1].timestamp(),
                      credential.expires_at.timestamp(), now + self.cache_ttl)
        if expires > now:
            self._cache.set(key, (generation, window, credential), expires)


def _until_in_force(comes_in_force, skew):
    """The last instant before a CRL issued at ``comes_in_force`` counts
    (:meth:`Verifier._check_crls` takes a CRL issued by ``at + skew``);
    ``_FOREVER`` when there is none."""
    if comes_in_force is _FOREVER:
        return _FOREVER
    return comes_in_force - skew - _TICK


def _path_verifier(store, at):
    """``cryptography``'s client verifier over trust anchors ``store`` at
    instant ``at``, with the grid profile (:data:`_CA_POLICY`)."""
    return (verification.PolicyBuilder().store(store).time(at)
            .max_chain_depth(8)
            .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
            .build_client_verifier())


def _directory_cas_above(cert, snap):
    """(CAs of the directory on the way up from ``cert``'s issuer, the
    last one reached or ``None``), looked up by subject DER."""
    found_all = []
    subject = snap.issuer_key(cert)
    seen = set()
    top = None
    for _ in range(8):
        found = snap.ca_by_subject.get(subject, ())
        if not found or subject in seen:
            break
        seen.add(subject)
        found_all.extend(found)
        top = found[0]
        subject = snap.issuer_key(top)
    return found_all, top


#: CA links (see :func:`_ca_link`) kept in a snapshot's memo under this
_LINKS = 'ca-links'
#: CRL verdicts of links (see :meth:`Verifier._check_crls`), and how many
_CRL_LINKS = 'crl-links'
_CRL_LINKS_SIZE = 4096


def _crl_link_key(cert, issuer):
    """(key, object the entry must hold) of the revocation verdict on
    ``cert`` under ``issuer``: the issuer object (it lives as long as the
    snapshot) and the DER of a certificate of a presented chain, or the
    object of a CA of the directory (held by the entry, so that its id
    names no other object)."""
    if certs_mod.fields(cert) is not None:
        return (id(issuer), certs_mod.der_of(cert)), None
    return (id(issuer), id(cert)), cert


def _fast_path(leaf, at, snap):
    """``([leaf, CA, ..., anchor], its validity window)`` when ``leaf``
    is signed by a CA of the directory whose link to its anchor is
    settled for this snapshot (:func:`_ca_link`) and valid at ``at``, and
    ``leaf`` passes what ``cryptography``'s path validation checks of a
    leaf under that CA (:func:`_signed_by_settled`). ``None`` otherwise:
    the caller then runs the full validation, whose verdict this never
    contradicts (it accepts only what the full validation accepts). The
    window (latest notBefore, earliest notAfter) takes the CAs' from
    their link, read once per snapshot."""
    if snap.anchors is None:
        return None
    for ca in snap.issuers_of(leaf):
        link = _ca_link(ca, at, snap)
        if link is None:
            continue
        upper, not_before, not_after, store, issuer_key = link
        if not not_before <= at <= not_after:
            continue
        if _signed_by_settled(leaf, issuer_key, store, at):
            leaf_from, leaf_until = certs_mod.validity(leaf)
            return [leaf, *upper], (max(leaf_from, not_before),
                                    min(leaf_until, not_after))
    return None


# Signature algorithms a leaf may be signed with on the settled path, by
# their exact DER AlgorithmIdentifier: the RSA PKCS #1 v1.5 and ECDSA ones
# that cryptography's path validation permits (CA/B 7.1.3.2). Its RSA-PSS
# encodings, and anything else, take the full validation.
_SETTLED_SIGNATURES = proxy.PATH_SIGNATURES
# Issuer key algorithms it permits (CA/B 7.1.3.1): RSA, EC P-256/384/521.
_SETTLED_KEY_ALGORITHMS = {
    bytes.fromhex('300d06092a864886f70d0101010500'): 'rsa',
    bytes.fromhex('301306072a8648ce3d020106082a8648ce3d030107'): 'ec',
    bytes.fromhex('301006072a8648ce3d020106052b81040022'): 'ec',
    bytes.fromhex('301006072a8648ce3d020106052b81040023'): 'ec',
}
# Critical extensions a leaf may carry on the settled path: those the
# path validation has a rule for (others, and any nameConstraints, take
# the full validation).
_SETTLED_CRITICAL = frozenset({
    x509.oid.ExtensionOID.BASIC_CONSTRAINTS, x509.oid.ExtensionOID.KEY_USAGE,
    x509.oid.ExtensionOID.EXTENDED_KEY_USAGE,
    x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    x509.oid.ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    x509.oid.ExtensionOID.AUTHORITY_INFORMATION_ACCESS})


def _signed_by_settled(leaf, issuer_key, store, at):
    """Whether ``leaf`` (issuer name = the settled CA's subject) passes,
    under that CA (``issuer_key``: :func:`_settled_key`; ``store``: the
    CA alone as an anchor), the checks ``cryptography``'s path validation
    makes of a leaf and its issuer (``permits_basic``, ``valid_issuer``):
    :func:`_basic_profile`, ``at`` inside the validity, the signature
    algorithm permitted, the issuer's key fit (:func:`_settled_key`), the
    signature. Stricter where that is simpler (serial 0, RSA-PSS, a
    critical extension it has no rule for, nameConstraints: the full
    validation decides those).

    Why by hand: the verifier object costs 57 us a leaf where these
    checks cost 35 us, 25 of them the RSA signature check itself. A
    certificate that is not of the presented chain (no DER slices) is
    checked by ``cryptography`` with the CA as the only anchor.
    """
    found = certs_mod.fields(leaf)
    if found is None:
        try:
            _path_verifier(store, at).verify(leaf, [])
        except verification.VerificationError:
            return False
        return True
    algorithm = _SETTLED_SIGNATURES.get(found.signature_algorithm)
    if (algorithm is None or issuer_key is None
            or issuer_key[0] != algorithm[1]
            or not certs_mod.remembered(
                leaf, 'settled profile',
                lambda cert: _settled_profile(cert, found))):
        return False
    not_before, not_after = certs_mod.validity(leaf)
    if not not_before <= at <= not_after:
        return False
    try:
        proxy.verify_with_key(issuer_key[1], leaf.signature, found.tbs,
                              algorithm[0])
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _settled_profile(leaf, found):
    """Whether ``leaf`` (of a presented chain; ``found``: its
    :class:`~voms_auth.voms.certs.Fields`, as the caller read them: another
    thread may drop the chain's slices meanwhile, see ``certs._register``)
    meets :func:`_basic_profile` and carries neither nameConstraints nor a
    critical extension the settled path has no rule for."""
    if not _basic_profile(leaf, found):
        return False
    for ext in leaf.extensions:
        if ext.oid == x509.oid.ExtensionOID.NAME_CONSTRAINTS or (
                ext.critical and ext.oid not in _SETTLED_CRITICAL):
            return False
    return True


def _settled_key(ca):
    """``(kind, public key)`` of the directory CA ``ca`` when the path
    validation would take it as the issuer of a leaf (the checks of
    :func:`_basic_profile`; its key algorithm RSA of 2048 bits at least or
    EC P-256/384/521), else ``None``. Its CA profile (:func:`_acts_as_ca`)
    and validity are checked by the caller."""
    found = certs_mod.fields_of(ca.public_bytes(serialization.Encoding.DER))
    if not _basic_profile(ca, found, serial_zero=True):
        return None
    kind = _SETTLED_KEY_ALGORITHMS.get(found.key_algorithm)
    key = ca.public_key()
    if kind is None or proxy.key_kind(key) != kind or (
            kind == 'rsa' and key.key_size < 2048):
        return None
    return kind, key


def _basic_profile(cert, found, *, serial_zero=False):
    """``cryptography``'s ``permits_basic`` of ``cert`` (``found``: its
    :class:`~voms_auth.voms.certs.Fields`), validity instants aside: X.509
    v3; the two signature algorithm fields equal; a serial number of 1 to
    21 octets, not negative (not zero either unless ``serial_zero``: a
    stricter rule for leaves); a non-empty issuer; validity times before
    2050 in UTCTime."""
    if (cert.version is not x509.Version.v3
            or found.outer_signature_algorithm != found.signature_algorithm
            or found.issuer == b'\x30\x00'
            or not (0 if serial_zero else 1) <= cert.serial_number
            < 1 << 160):
        return False
    for tag, when in zip(found.validity_tags, (cert.not_valid_before_utc,
                                               cert.not_valid_after_utc),
                         strict=True):
        if tag == der.GENERALIZED_TIME and 1950 <= when.year < 2050:
            return False
    return True


def _ca_link(ca, at, snap):
    """``(path, not before, not after, store)`` of the directory CA
    ``ca``: its path [ca, ..., anchor], verified ONCE per trust snapshot
    (signatures, CA profile, path lengths, by ``cryptography`` with
    ``ca`` as the leaf), the window where every certificate of it is
    valid, and a store holding ``ca`` alone for checking what it signs.
    ``None`` (remembered) when the link cannot be settled that way: a
    name-constrained CA, a path-length constraint that would count ``ca``
    itself, a path invalid at ``at``; then the full validation runs for
    every certificate under ``ca``."""
    links = snap.memo.setdefault(_LINKS, {})
    key = id(ca)
    if key in links:
        return links[key]
    link = None
    try:
        link = _settle_link(ca, at, snap)
    except Exception as exc:  # noqa: BLE001 - no fast path, full check
        LOG.debug('no settled path for the CA %s: %s',
                  printable(slash_dn(ca.subject)), type(exc).__name__)
    links[key] = link
    return link


def _settle_link(ca, at, snap):
    """:func:`_ca_link`'s computation (may raise)."""
    if not _acts_as_ca(ca):
        return None
    if ca in snap.anchor_set:
        upper = [ca]
    else:
        above, _ = _directory_cas_above(ca, snap)
        upper = list(_path_verifier(snap.anchors, at).verify(
            ca, above).chain)
    if len(upper) > 8:
        return None
    for depth, cert in enumerate(upper):
        if depth and not _acts_as_ca(cert):
            return None
        try:
            cert.extensions.get_extension_for_class(x509.NameConstraints)
            return None           # left to the full validation
        except x509.ExtensionNotFound:
            pass
        limit = cert.extensions.get_extension_for_class(
            x509.BasicConstraints).value.path_length
        if depth and limit is not None and limit < depth:
            return None
    return (tuple(upper), max(c.not_valid_before_utc for c in upper),
            min(c.not_valid_after_utc for c in upper),
            verification.Store([ca]), _settled_key(ca))


def _acts_as_ca(cert):
    """Whether ``cert`` meets :data:`_CA_POLICY` (basicConstraints CA,
    key usage allowing keyCertSign when stated)."""
    try:
        if not cert.extensions.get_extension_for_class(
                x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        return False
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        return True
    return usage.value.key_cert_sign


def _crl_facts(snap, crl):
    """(has an issuingDistributionPoint, thisUpdate, nextUpdate or
    ``_FOREVER``) of a CRL of ``snap``, read once per snapshot (the CRL
    objects live as long as it)."""
    facts = snap.memo.setdefault('crl-facts', {})
    found = facts.get(id(crl))
    if found is None:
        try:
            crl.extensions.get_extension_for_class(
                x509.IssuingDistributionPoint)
            scoped = True
        except x509.ExtensionNotFound:
            scoped = False
        except Exception:  # noqa: BLE001 - undecodable: covers() decides
            scoped = True
        found = facts[id(crl)] = (scoped, crl.last_update_utc,
                                  crl.next_update_utc or _FOREVER)
    return found


@memoized(size=4096, longest=256)
def _is_vo_name(text):
    """``identity.is_vo_name(text)``, remembered (the same few VOs come
    back in every AC)."""
    return identity.is_vo_name(text)


@memoized(size=4096, longest=256)
def _membership(value):
    """``fqan.parse_fqan(value)``, remembered for valid FQANs (the same
    few come back in every AC of a VO; a Membership is immutable).

    :raises InvalidFQAN:
    """
    return fqan.parse_fqan(value)


def _refuse_revoked(snap, crl, cert, issuer):
    """:raises CertificateRevoked: ``crl`` lists ``cert`` (one lookup in
    the snapshot's index of revoked serials, not a scan of the CRL)."""
    when = snap.revocation_date(crl, cert.serial_number)
    if when is not None:
        raise errors.CertificateRevoked(
            'the certificate %s (serial %d) was revoked by %s on %s'
            % (slash_dn(cert.subject), cert.serial_number,
               slash_dn(issuer.subject), when.isoformat()))


def _instant(at):
    if at is None:
        return datetime.datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError('"at" must be a timezone-aware datetime')
    return at.astimezone(UTC)


#: Largest chain (bytes) cached under its own texts rather than a digest.
_TEXT_KEY_BYTES = 32 * 1024


def _chain_key(certs):
    """The cache key of the texts ``certs`` as received, or ``None`` when
    they are not a short list of texts within the size limits (then they
    are parsed, and refused with the reason). The key is the texts
    themselves (a dict lookup hashes and compares them in full: cheaper
    than a digest, and no collision can be crafted) up to
    :data:`_TEXT_KEY_BYTES`, a SHA-256 digest over larger ones."""
    if not isinstance(certs, (list, tuple)) or \
            len(certs) > certs_mod.MAX_CERTIFICATES:
        return None
    total = 0
    for item in certs:
        if item is None:
            continue
        if not isinstance(item, (str, bytes)):
            return None
        total += len(item)
        if len(item) > certs_mod.MAX_PEM_BYTES:
            return None
    if total <= _TEXT_KEY_BYTES:
        return ('chain',) + tuple(certs)
    digest = hashlib.sha256(b'chain')
    for item in certs:
        if item:
            if isinstance(item, str):
                item = item.encode('utf-8', 'replace')
            digest.update(len(item).to_bytes(4, 'big'))
            digest.update(item)
    return digest.digest()


def _pem_list(certs):
    """``certs`` as a list of non-empty PEM ``bytes``, within the limits of
    :mod:`~voms_auth.voms.certs`.

    :raises MalformedCredential: ``certs`` is not a list of PEM texts.
    :raises CredentialTooLarge: too many or too long texts.
    """
    if isinstance(certs, (str, bytes, bytearray, memoryview)):
        raise errors.MalformedCredential(
            'the chain must be given as a list of PEM certificates')
    try:
        items = [c for c in certs if c is not None]
    except TypeError:
        raise errors.MalformedCredential(
            'the chain must be given as a list of PEM certificates'
        ) from None
    if len(items) > certs_mod.MAX_CERTIFICATES:
        raise _too_many(len(items))
    # (bytes within the size limit pass as they are: the message of
    # pem_bytes is formatted only for what it converts or refuses)
    pems = [c if type(c) is bytes and len(c) <= certs_mod.MAX_PEM_BYTES
            else certs_mod.pem_bytes(c, 'certificate %d of the chain' % i)
            for i, c in enumerate(items)]
    return [p for p in pems if p]


def _too_many(count):
    return errors.CredentialTooLarge(
        'the chain holds %d certificates; at most %d are accepted'
        % (count, certs_mod.MAX_CERTIFICATES))


def _unforeseen(exc):
    """The refusal for an exception no check foresaw: logged for the
    developers (type and message, escaped), returned as
    :class:`~voms_auth.voms.errors.UnprocessableCredential`."""
    LOG.error('refusing a VOMS credential that raised an unforeseen %s: %s',
              type(exc).__name__, printable(exc))
    LOG.debug('unforeseen error in VOMS verification', exc_info=True)
    return errors.UnprocessableCredential(
        'the credential cannot be processed (%s)' % type(exc).__name__)


def _find_acs(chain):
    """Every VOMS AC of the first proxy (presented proxy first) that
    carries a VOMS extension, in extension order."""
    for cert in chain.proxies:
        # (sliced from the DER when the proxy's other extensions are known
        # to decode: its extensions are then not decoded, see
        # certs.remembered_for_extensions)
        value = certs_mod.voms_acs_value(cert)
        if value is None:
            ext = proxy.extension(cert, ac.OID_VOMS_ACS)
            if ext is None:
                continue
            value = ext.value.value
        acs = ac.parse_acs(value)
        if not acs:
            raise errors.MalformedAC(
                'the VOMS extension of proxy %s holds no attribute '
                'certificate' % slash_dn(cert.subject))
        return acs
    raise errors.NoVomsExtension(
        'the proxy of %s carries no VOMS attribute certificate: create it '
        'with voms-proxy-init --voms <vo>' % slash_dn(chain.eec.subject))


def _no_valid_ac(rejected):
    """The refusal when no AC of the proxy is valid: the first AC's own
    error (same type and text as with a single AC), its text prefixed
    with how many others failed too when there are several."""
    _, _, first = rejected[0]
    if len(rejected) == 1:
        return first
    others = '; '.join('AC %d (VO %s): %s' % (i, a.vo, e)
                       for i, a, e in rejected[1:])
    return type(first)(
        'no attribute certificate of the proxy is valid: AC 0 (VO %s): '
        '%s; %s' % (rejected[0][1].vo, first, others),
        public='no attribute certificate of the proxy is valid: %s'
        % first.public)


def _verified_ac(attribute_cert, server):
    """The :class:`VerifiedAC` of a checked AC signed by ``server``."""
    return built(VerifiedAC, dict(
        vo=attribute_cert.vo, fqans=attribute_cert.fqans,
        server=slash_dn(server.subject), server_ca=slash_dn(server.issuer),
        uri=attribute_cert.uri, not_before=attribute_cert.not_before,
        not_after=attribute_cert.not_after, serial=attribute_cert.serial,
        targets=attribute_cert.targets,
        generic_attributes=attribute_cert.generic_attributes))


def _server_cert(attribute_cert, vo_dir, issuer_ders):
    """The certificate of the AC issuer (from the AC, else from vomsdir)
    and the other certificates the AC carries."""
    carried = list(attribute_cert.server_certs)
    for cert in carried + list(vo_dir.certificates):
        if name_der(cert.subject) in issuer_ders:
            return cert, [c for c in carried if c is not cert]
    return None, carried


def _lsc_lists_remembered(vo_dir, server_path, snap):
    """:func:`_lsc_lists`, a ``True`` remembered for the snapshot (its
    vomsdir and the server's path, kept per snapshot too, do not change):
    every AC of the VO carries the same server certificate."""
    memo = snap.memo.setdefault('lsc-listed', {})
    key = (id(vo_dir), id(server_path[0]))
    found = memo.get(key)
    if found is not None and found[0] is vo_dir and \
            found[1] is server_path[0] and found[2] == server_path:
        return True
    if not _lsc_lists(vo_dir, server_path):
        return False
    if len(memo) >= 256:
        memo.clear()
    memo[key] = (vo_dir, server_path[0], list(server_path))
    return True


def _lsc_lists(vo_dir, server_path):
    dns = [slash_dn(c.subject) for c in server_path]
    issuer = slash_dn(server_path[0].issuer)
    for lsc in vo_dir.lsc:
        for chain in lsc.chains:
            if len(chain) < 2 or chain[0] != dns[0] or chain[1] != issuer:
                continue
            if all(i < len(dns) and chain[i] == dns[i]
                   for i in range(2, len(chain))):
                return True
    return False


def _lsc_diagnosis(vo_dir, server_path, uri):
    """What the AC presented (server DN, its CA chain) and why the LSC
    files do not list it: the first line that differs in the LSC file of
    the AC's host (``<host>.lsc``, host from the AC's URI) or in one
    starting with the server DN, and the vomsdir problems (LSC lines not
    in slash form, a misnamed LSC file). For the admin's log only."""
    dns = [slash_dn(server_path[0].subject)] + [
        slash_dn(c.issuer) for c in server_path]
    dns = list(dict.fromkeys(dns))
    text = '. The AC presented server %s with CA chain %s' % (
        dns[0], ' < '.join(dns[1:]) or '(none)')
    host = (uri or '').rsplit(':', 1)[0].lower()
    candidates = [lsc for lsc in vo_dir.lsc
                  if os.path.basename(lsc.path).lower() == host + '.lsc']
    candidates += [lsc for lsc in vo_dir.lsc if lsc not in candidates and
                   any(chain[:1] == (dns[0],) for chain in lsc.chains)]
    for lsc in candidates[:1]:
        for chain, numbers in zip(lsc.chains, lsc.line_numbers or
                                  [()] * len(lsc.chains), strict=False):
            for i, line in enumerate(chain):
                wanted = dns[i] if i < len(dns) else '(nothing)'
                if line != wanted:
                    text += '; %s line %s is %s where the AC presented %s' % (
                        lsc.path, numbers[i] if i < len(numbers) else '?',
                        line, wanted)
                    break
            else:
                if len(chain) < 2:
                    text += '; %s lists the server DN without its CA' % (
                        lsc.path)
    problems = [p for lsc in vo_dir.lsc for p in lsc.problems]
    problems += [p for p in vo_dir.problems if p not in problems]
    if problems:
        text += '; ' + '; '.join(problems)
    return text


def _check_ac_signature(attribute_cert, server):
    algorithm = _AC_SIGNATURES.get(attribute_cert.signature_oid)
    server_dn = LazyDN(server.subject)
    if algorithm is None:
        raise errors.ACSignatureInvalid(
            'the AC signed by %s uses an unsupported signature algorithm '
            '%s' % (server_dn, attribute_cert.signature_oid))
    hash_cls, kind = algorithm
    key = certs_mod.public_key_of(server)
    if proxy.key_kind(key) != kind:
        raise errors.ACSignatureInvalid(
            'the AC signature algorithm %s does not fit the key of %s'
            % (attribute_cert.signature_oid, server_dn))
    try:
        proxy.verify_with_key(key, attribute_cert.signature,
                              attribute_cert.tbs, hash_cls())
    except (InvalidSignature, UnsupportedAlgorithm):
        raise errors.ACSignatureInvalid(
            'the AC signature does not verify with the key of %s'
            % server_dn) from None


def _check_holder(attribute_cert, eec):
    names = attribute_cert.holder_issuer
    if attribute_cert.holder_serial is None or len(names) != 1:
        raise errors.ACHolderMismatch(
            'the AC does not name its holder by issuer and serial')
    name = names[0]
    # RFC 5755 names the holder certificate's issuer; VOMS has always
    # written the holder's subject there: both are accepted, as VOMS does.
    if (attribute_cert.holder_serial != certs_mod.serial(eec)
            or name not in (certs_mod.issuer_der(eec),
                            certs_mod.subject_der(eec))):
        raise errors.ACHolderMismatch(
            'the AC was issued to another certificate (serial %d) than '
            'the user\'s %s (serial %d)' % (
                attribute_cert.holder_serial, slash_dn(eec.subject),
                eec.serial_number))
