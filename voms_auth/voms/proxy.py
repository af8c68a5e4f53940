"""RFC 3820 proxy certificate rules.

No library checks proxy certificates (OpenSSL 3 dropped proxy support from
the default verification and ``cryptography`` never had it), so the rules
are written out here: :func:`walk_proxies` follows the chain from the
presented proxy down to the user's end-entity certificate (EEC), checking
each link; the EEC -> CA part is left to :mod:`cryptography`'s path
validation (see :mod:`voms_auth.voms.verifier`).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import List, Optional, Sequence, Tuple, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from voms_auth.cache import memoized
from voms_auth.voms import der, errors
from voms_auth.voms.certs import (
    added_cn,
    extends_issuer_name,
    fields,
    issuer_der,
    public_key_of,
    remembered,
    remembered_for_extensions,
    subject_der,
    subject_dn,
    tbs_of,
    validity,
)
from voms_auth.voms.names import LazySubject, slash_dn

OID_PROXY_CERT_INFO = x509.ObjectIdentifier('1.3.6.1.5.5.7.1.14')
#: Pre-RFC (GT3 draft) ProxyCertInfo.
OID_PROXY_CERT_INFO_DRAFT = x509.ObjectIdentifier('1.3.6.1.4.1.3536.1.222')

POLICY_INHERIT_ALL = '1.3.6.1.5.5.7.21.1'
POLICY_INDEPENDENT = '1.3.6.1.5.5.7.21.2'
POLICY_LIMITED = '1.3.6.1.4.1.3536.1.1.1.9'   # Globus limited proxy
_ACCEPTED_POLICIES = {POLICY_INHERIT_ALL: 'inheritAll',
                      POLICY_LIMITED: 'limited'}

# Critical extensions a proxy may carry.
_KNOWN_CRITICAL = frozenset((
    OID_PROXY_CERT_INFO, ExtensionOID.KEY_USAGE,
    ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.EXTENDED_KEY_USAGE))


@dataclasses.dataclass(frozen=True)
class ProxyInfo:
    """ProxyCertInfo of one proxy."""

    path_length: Optional[int]
    policy: str


@dataclasses.dataclass(frozen=True)
class ProxyChain:
    """The proxies (presented one first) and the user's EEC."""

    proxies: Tuple[x509.Certificate, ...]
    eec: x509.Certificate
    others: Tuple[x509.Certificate, ...]   # presented certs not used


def proxy_info(cert: x509.Certificate) -> Optional[ProxyInfo]:
    """The RFC 3820 ProxyCertInfo of ``cert``, ``None`` if not a proxy
    (computed once for the same bytes: :func:`~voms_auth.voms.certs.
    remembered`).

    :raises LegacyProxy: for GT2 / GT3-draft proxies.
    :raises ProxyViolation: for an undecodable or non-critical extension.
    """
    return remembered(cert, 'proxy info', _proxy_info)


def _proxy_info(cert):
    info = remembered_for_extensions(cert, 'proxy cert info',
                                     _proxy_cert_info_of)
    if info is None:
        _refuse_legacy(cert)
    return info


def _proxy_cert_info_of(cert):
    """The :class:`ProxyInfo` of ``cert``'s ProxyCertInfo extension,
    ``None`` without one (from its extensions only)."""
    ext = extension(cert, OID_PROXY_CERT_INFO)
    if ext is None:
        return None
    if not ext.critical:
        raise errors.ProxyViolation(
            'proxy %s: its ProxyCertInfo extension is not critical'
            % slash_dn(cert.subject))
    try:
        length, policy = _proxy_cert_info(ext.value.value)
    except Exception as exc:  # noqa: BLE001 - any decoder failure refuses
        raise errors.ProxyViolation(
            'proxy %s: its ProxyCertInfo extension cannot be decoded (%s)'
            % (slash_dn(cert.subject), exc)) from None
    if length is not None and length < 0:
        raise errors.ProxyViolation(
            'proxy %s: negative path length constraint'
            % slash_dn(cert.subject))
    return ProxyInfo(path_length=length, policy=policy)


def extension(cert: x509.Certificate, oid: x509.ObjectIdentifier):
    """The extension ``oid`` of ``cert``, or ``None`` (no exception raised
    for the common case of an absent one; ``cryptography`` refuses
    certificates carrying an extension twice)."""
    for ext in cert.extensions:
        if ext.oid == oid:
            return ext
    return None


def is_proxy_pem(pem: Union[str, bytes]) -> bool:
    """Whether the first certificate of ``pem`` is a proxy certificate:
    RFC 3820 (ProxyCertInfo), GT3 draft, or legacy GT2 (``CN=proxy``).

    Input that does not parse counts as a proxy, so that verification
    reports why it is unusable instead of the credential being silently
    ignored; no exception of the parser escapes.
    """
    try:
        cert = x509.load_pem_x509_certificate(
            pem.encode('ascii', 'replace') if isinstance(pem, str) else pem)
        return _looks_like_proxy(cert)
    except Exception:  # noqa: BLE001 - unparseable counts as a proxy
        return True


def _looks_like_proxy(cert):
    """Whether ``cert`` carries a proxy extension or the GT2 proxy name.

    :raises Exception: whatever the lazy decoding of ``cert`` raises.
    """
    oids = {ext.oid for ext in cert.extensions}
    if oids & {OID_PROXY_CERT_INFO, OID_PROXY_CERT_INFO_DRAFT}:
        return True
    rdns = cert.subject.rdns
    return bool(rdns) and rdns[-1].rfc4514_string() in (
        'CN=proxy', 'CN=limited proxy')


# (remembered by its bytes: the same few values -- inheritAll, no length --
# are in nearly every proxy)
@memoized(size=256, longest=256)
def _proxy_cert_info(value):
    """(path length or ``None``, policy language OID) of a DER
    ProxyCertInfo: ``SEQUENCE { pCPathLenConstraint INTEGER OPTIONAL,
    proxyPolicy SEQUENCE { policyLanguage OID, policy OCTET STRING
    OPTIONAL } }`` (read with :mod:`~voms_auth.voms.der`: two small fields
    do not need an ASN.1 framework on every verification).

    :raises ValueError: it does not decode.
    """
    start, end = der.only(value, 0, len(value), der.SEQUENCE,
                          'ProxyCertInfo')
    items = der.children(value, start, end)
    length = None
    if items and items[0][0] == der.INTEGER:
        length = der.integer(value, items[0][2], items[0][3])
        items = items[1:]
    if len(items) != 1 or items[0][0] != der.SEQUENCE:
        raise ValueError('ProxyCertInfo holds no ProxyPolicy')
    policy = der.children(value, items[0][2], items[0][3])
    if not policy or policy[0][0] != der.OID or len(policy) > 2 or (
            len(policy) == 2 and policy[1][0] != der.OCTET_STRING):
        raise ValueError('bad ProxyPolicy')
    return length, der.oid(value, policy[0][2], policy[0][3])


def _refuse_legacy(cert):
    if extension(cert, OID_PROXY_CERT_INFO_DRAFT) is not None:
        raise errors.LegacyProxy(
            'proxy %s is a pre-RFC (GT3 draft) proxy, which is not '
            'accepted: create an RFC 3820 proxy (voms-proxy-init -rfc)'
            % slash_dn(cert.subject))
    if not subject_dn(cert).endswith(('/CN=proxy', '/CN=limited proxy')):
        return          # (any GT2 proxy's slash form ends so; cheap)
    rdns = cert.subject.rdns
    if not rdns:
        return
    last = rdns[-1]
    values = last.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(last) == 1 and values and values[0].value in (
            'proxy', 'limited proxy') and \
            x509.Name(rdns[:-1]) == cert.issuer:
        raise errors.LegacyProxy(
            'proxy %s is a legacy (Globus GT2) proxy, which is not '
            'accepted: create an RFC 3820 proxy (voms-proxy-init -rfc)'
            % slash_dn(cert.subject))


def _subject_extends(proxy, issuer):
    """Whether ``proxy``'s subject is ``issuer``'s subject plus one RDN
    holding one CN. Compared on the names' DER first (proxy tools copy the
    issuer's name); only when the bytes differ are the decoded names
    compared attribute by attribute, as before."""
    subject = subject_der(issuer)
    if subject == issuer_der(proxy):
        if extends_issuer_name(proxy):
            return True
    elif added_cn(subject_der(proxy), subject) is not None:
        return True
    rdns = proxy.subject.rdns
    last = rdns[-1] if rdns else None
    return not (len(rdns) != len(issuer.subject.rdns) + 1
                or x509.Name(rdns[:-1]) != issuer.subject
                or len(last) != 1
                or next(iter(last)).oid != NameOID.COMMON_NAME)


def _check_one(proxy, issuer, info, below, at, skew):
    subject = LazySubject(proxy)
    if proxy.version is not x509.Version.v3:
        # (RFC 5280 4.1.2.1: extensions, ProxyCertInfo among them, are v3)
        raise errors.ProxyViolation(
            'proxy %s is not an X.509 version 3 certificate' % subject)
    found = fields(proxy)
    if found is not None and \
            found.signature_algorithm != found.outer_signature_algorithm:
        raise errors.ProxyViolation(
            'proxy %s states two different signature algorithms (RFC 5280 '
            '4.1.1.2: the signed one and the one beside it must be the '
            'same)' % subject)
    if not _subject_extends(proxy, issuer):
        raise errors.ProxyViolation(
            'proxy %s: its subject must be its issuer\'s subject %s plus '
            'one CN' % (subject, slash_dn(issuer.subject)))
    try:
        verify_signature(proxy, issuer)
    except InvalidSignature:
        raise errors.ProxyViolation(
            'proxy %s: its signature does not verify with the key of %s'
            % (subject, slash_dn(issuer.subject))) from None
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise errors.ProxyViolation(
            'proxy %s cannot be checked against %s: %s'
            % (subject, slash_dn(issuer.subject), exc)) from None
    if info.policy == POLICY_INDEPENDENT:
        raise errors.ProxyViolation(
            'proxy %s is an independent proxy, which does not carry the '
            'user\'s identity' % subject)
    if info.policy not in _ACCEPTED_POLICIES:
        raise errors.ProxyViolation(
            'proxy %s has an unknown policy language %s'
            % (subject, info.policy))
    if info.path_length is not None and below > info.path_length:
        raise errors.ProxyViolation(
            'proxy %s allows %d proxies below it, but %d follow'
            % (subject, info.path_length, below))
    remembered_for_extensions(proxy, 'proxy extension rules',
                              _check_extension_rules)
    _check_can_sign(issuer)
    not_before, not_after = validity(proxy)
    if at < not_before - skew:
        raise errors.ProxyNotYetValid(
            'proxy %s is not valid before %s'
            % (subject, not_before.isoformat()))
    if at > not_after:
        raise errors.ProxyExpired(
            'proxy %s expired at %s' % (subject, not_after.isoformat()))


# Signature algorithms by the exact DER of their AlgorithmIdentifier (the
# one ``cryptography`` reads, beside the signed part): (hash, key kind),
# with PKCS #1 v1.5 for RSA -- what ``signature_hash_algorithm`` and
# ``signature_algorithm_parameters`` give for them (tests/unit/voms/
# test_verify.py compares). Why: those two build new objects and the
# padding is checked against two ABCs, ~2 us of a proxy's check; anything
# else (RSA-PSS, other encodings) takes that way. PATH_SIGNATURES: the
# ones ``cryptography``'s path validation permits (CA/B 7.1.3.2), also
# read by the verifier's settled path; a proxy may be signed with SHA-1
# or SHA-224 too.
_PKCS1V15 = padding.PKCS1v15()
PATH_SIGNATURES = {
    bytes.fromhex('300d06092a864886f70d01010b0500'): (hashes.SHA256(),
                                                      'rsa'),
    bytes.fromhex('300d06092a864886f70d01010c0500'): (hashes.SHA384(),
                                                      'rsa'),
    bytes.fromhex('300d06092a864886f70d01010d0500'): (hashes.SHA512(),
                                                      'rsa'),
    bytes.fromhex('300a06082a8648ce3d040302'): (hashes.SHA256(), 'ec'),
    bytes.fromhex('300a06082a8648ce3d040303'): (hashes.SHA384(), 'ec'),
    bytes.fromhex('300a06082a8648ce3d040304'): (hashes.SHA512(), 'ec'),
}
_PROXY_SIGNATURES = {
    **PATH_SIGNATURES,
    # (SHA-1: accepted for proxies, see verify_signature)
    bytes.fromhex('300d06092a864886f70d0101050500'): (
        hashes.SHA1(), 'rsa'),  # noqa: S303
    bytes.fromhex('300d06092a864886f70d01010e0500'): (hashes.SHA224(),
                                                      'rsa'),
}


def _check_extension_rules(proxy):
    """True when ``proxy``'s extensions keep the rules of RFC 3820 that
    concern them (no alternative name, not a CA, no unknown critical
    one); raises the refusal otherwise."""
    for ext in proxy.extensions:
        if ext.oid in (ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                       ExtensionOID.ISSUER_ALTERNATIVE_NAME):
            raise errors.ProxyViolation(
                'proxy %s carries a subject/issuer alternative name, '
                'which RFC 3820 forbids' % LazySubject(proxy))
        if ext.oid == ExtensionOID.BASIC_CONSTRAINTS and ext.value.ca:
            raise errors.ProxyViolation(
                'proxy %s claims to be a CA' % LazySubject(proxy))
        if ext.critical and ext.oid not in _KNOWN_CRITICAL:
            raise errors.ProxyViolation(
                'proxy %s has an unknown critical extension %s'
                % (LazySubject(proxy), ext.oid.dotted_string))
    return True


def verify_signature(cert: x509.Certificate,
                     issuer: x509.Certificate) -> None:
    """Check ``cert``'s signature with ``issuer``'s key.

    ``Certificate.verify_directly_issued_by`` refuses SHA-1, which
    voms-proxy-fake and older voms-proxy-init sign proxies with; proxies
    live hours, so SHA-1 is accepted for them (not for CA-issued
    certificates, which cryptography's path validation checks).

    :raises InvalidSignature, UnsupportedAlgorithm, TypeError:
    """
    key = public_key_of(issuer)
    kind = key_kind(key)
    found = fields(cert)
    known = _PROXY_SIGNATURES.get(
        found.outer_signature_algorithm) if found is not None else None
    if known is not None and kind == known[1]:
        verify_with_key(key, cert.signature, found.tbs, known[0],
                        rsa_padding=_PKCS1V15)
        return
    params = cert.signature_algorithm_parameters
    if kind == 'rsa' and not isinstance(
            params, (padding.PKCS1v15, padding.PSS)):
        raise TypeError('unexpected RSA signature parameters')
    if kind == 'ec' and params is not None:
        # (an RSA algorithm over an ECDSA signature: not a forgery, the
        # issuer's key signed, but not what the certificate states)
        raise TypeError('an RSA signature algorithm for an EC key')
    verify_with_key(key, cert.signature, tbs_of(cert),
                    cert.signature_hash_algorithm, rsa_padding=params)


def key_kind(key) -> Optional[str]:
    """``'rsa'`` for an RSA public key, ``'ec'`` for an EC one, else
    ``None``: asked once per key type (:func:`_kind_of_type`)."""
    return _kind_of_type(type(key))


@memoized(size=16, longest=None)
def _kind_of_type(key_type):
    """:func:`key_kind` of the keys of type ``key_type``.

    Why remembered: ``cryptography``'s key classes are ABCs, and an
    ``isinstance`` against one costs ~0.5 us (``ABCMeta.__instancecheck__``,
    470 ns measured) where a dict lookup by type costs 60 ns; a
    verification asks it five times. The answer for a type never changes
    (``cryptography`` registers its key types once, at import).
    """
    if issubclass(key_type, rsa.RSAPublicKey):
        return 'rsa'
    if issubclass(key_type, ec.EllipticCurvePublicKey):
        return 'ec'
    return None


def verify_with_key(key, signature: bytes, data: bytes,
                    hash_algorithm: hashes.HashAlgorithm, *,
                    rsa_padding=None) -> None:
    """Check an RSA or EC ``signature`` over ``data`` with public ``key``
    (the one RSA/EC signature check: proxies and attribute certificates).

    :param rsa_padding: padding of an RSA signature (default PKCS #1 v1.5).
    :raises InvalidSignature: the signature does not verify.
    :raises UnsupportedAlgorithm: ``hash_algorithm`` is not supported.
    :raises TypeError: ``key`` is neither RSA nor EC.
    """
    kind = key_kind(key)
    if kind == 'rsa':
        key.verify(signature, data, rsa_padding or padding.PKCS1v15(),
                   hash_algorithm)
    elif kind == 'ec':
        key.verify(signature, data, ec.ECDSA(hash_algorithm))
    else:
        raise TypeError('unsupported issuer key type %s'
                        % type(key).__name__)


def _check_can_sign(issuer):
    if not remembered(issuer, 'can sign', _can_sign):
        raise errors.ProxyViolation(
            '%s signed a proxy but its key usage does not allow '
            'digitalSignature' % slash_dn(issuer.subject))


def _can_sign(cert):
    """Whether ``cert``'s key usage, if stated, allows digitalSignature."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        return True
    return usage.value.digital_signature


def walk_proxies(certs: Sequence[x509.Certificate], at: datetime.datetime,
                 skew: datetime.timedelta) -> ProxyChain:
    """Check the proxy part of ``certs`` (presented proxy first, the rest
    in any order) and find the user's EEC.

    :raises NotAProxy, LegacyProxy, ProxyViolation, ProxyExpired,
        ProxyNotYetValid, MissingEEC:
    """
    if not certs:
        raise errors.MalformedCredential('no certificate was presented')
    leaf = certs[0]
    info = proxy_info(leaf)
    if info is None:
        raise errors.NotAProxy(
            'the presented certificate %s is not a proxy certificate'
            % slash_dn(leaf.subject))
    pool: List[x509.Certificate] = list(certs[1:])
    proxies = [leaf]
    infos = [info]
    current = leaf
    while True:
        wanted = issuer_der(current)
        candidates = [c for c in pool if subject_der(c) == wanted] or [
            c for c in pool if c.subject == current.issuer]
        if not candidates:
            raise errors.MissingEEC(
                'the chain does not hold %s, which issued proxy %s: send the '
                'whole proxy file, including the user certificate'
                % (slash_dn(current.issuer), slash_dn(current.subject)))
        issuer = candidates[0]
        pool.remove(issuer)
        issuer_info = proxy_info(issuer)
        _check_one(current, issuer, infos[-1], len(proxies) - 1, at, skew)
        if issuer_info is None:
            return ProxyChain(proxies=tuple(proxies), eec=issuer,
                              others=tuple(pool))
        proxies.append(issuer)
        infos.append(issuer_info)
        current = issuer
        if len(proxies) > 32:
            raise errors.ProxyViolation('more than 32 proxies in the chain')
