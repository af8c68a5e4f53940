"""Decoding of VOMS attribute certificates (RFC 5755, VOMS profile GFD.182).

Decoding only: :func:`parse_acs` turns the value of the proxy extension
1.3.6.1.4.1.8005.100.100.5 into :class:`AttributeCertificate` objects; the
checks are in :mod:`voms_auth.voms.verifier`.

The RFC 5755 structures come from ``asn1crypto`` (``cms.
AttributeCertificateV2``): it decodes lazily and keeps the bytes it was
given, so the signature is checked over the exact ``acinfo`` received. It
replaced pyasn1-modules' ``rfc5755`` here because pyasn1 took ~600 us per
AC, more than all other verification steps together (measured with
``bench/bench_voms.py``); asn1crypto takes ~120 us.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Optional, Tuple

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509

from voms_auth.voms import errors
from voms_auth.voms.certs import checked

OID_VOMS_ACS = x509.ObjectIdentifier('1.3.6.1.4.1.8005.100.100.5')
OID_VOMS_FQANS = '1.3.6.1.4.1.8005.100.100.4'
OID_VOMS_CERTS = '1.3.6.1.4.1.8005.100.100.10'
#: VOMS Generic Attributes (name = value pairs with a qualifier).
OID_VOMS_TAGS = '1.3.6.1.4.1.8005.100.100.11'
OID_TARGETS = '2.5.29.55'
OID_NO_REV_AVAIL = '2.5.29.56'
OID_AKI = '2.5.29.35'

#: Largest VOMS extension value decoded (one AC with its server
#: certificate is ~3 KB).
MAX_EXTENSION_BYTES = 64 * 1024

#: AC extensions understood here; any other critical one is refused.
KNOWN_EXTENSIONS = frozenset(
    (OID_VOMS_CERTS, OID_VOMS_TAGS, OID_TARGETS, OID_NO_REV_AVAIL, OID_AKI))


class _ACList(core.SequenceOf):
    _child_spec = cms.AttributeCertificateV2


class _VomsACs(core.SequenceOf):
    """The extension value: SEQUENCE OF SEQUENCE OF AttributeCertificate."""

    _child_spec = _ACList


class _RawList(core.SequenceOf):
    _child_spec = core.Any


class _CertGroups(core.SequenceOf):
    """Extension .10: SEQUENCE OF SEQUENCE OF Certificate."""

    _child_spec = _RawList


class _GenericAttribute(core.Sequence):
    """VOMS ``AC_ATTRIBUTE``: one Generic Attribute."""

    _fields = [('name', core.OctetString), ('value', core.OctetString),
               ('qualifier', core.OctetString)]


class _GenericAttributeList(core.SequenceOf):
    _child_spec = _GenericAttribute


class _GenericAttributeHolder(core.Sequence):
    """VOMS ``AC_ATT_HOLDER``: the granting authority and its GAs."""

    _fields = [('grantor', asn1_x509.GeneralNames),
               ('attributes', _GenericAttributeList)]


class _GenericAttributeHolders(core.SequenceOf):
    _child_spec = _GenericAttributeHolder


class _GenericAttributes(core.Sequence):
    """VOMS ``AC_FULL_ATTRIBUTES``: the value of extension .11."""

    _fields = [('providers', _GenericAttributeHolders)]


class _Target(core.Choice):
    _alternatives = [
        ('target_name', asn1_x509.GeneralName, {'explicit': 0}),
        ('target_group', asn1_x509.GeneralName, {'explicit': 1}),
        ('target_cert', core.Any, {'implicit': 2}),
    ]


class _Targets(core.SequenceOf):
    _child_spec = _Target


class _TargetInformation(core.SequenceOf):
    _child_spec = _Targets


@dataclasses.dataclass(frozen=True)
class AttributeCertificate:
    """One decoded VOMS AC; nothing in it is verified yet."""

    tbs: bytes                        # exact DER of acinfo (signed bytes)
    signature_oid: str
    signature: bytes
    holder_issuer: Tuple[bytes, ...]  # DER Names (directoryName), or b''
    holder_serial: Optional[int]
    issuer_names: Tuple[bytes, ...]   # DER Names of the AC issuer
    serial: int
    not_before: datetime.datetime
    not_after: datetime.datetime
    vo: Optional[str]
    uri: Optional[str]
    fqans: Tuple[str, ...]
    server_certs: Tuple[x509.Certificate, ...]
    targets: Optional[Tuple[str, ...]]  # None: no targets extension
    unknown_critical: Tuple[str, ...]
    #: VOMS Generic Attributes, (name, value, qualifier), in AC order
    generic_attributes: Tuple[Tuple[str, str, str], ...] = ()


def parse_acs(extension_value: bytes):
    """Decode the VOMS ACs of a proxy extension, in order.

    :raises MalformedAC: when anything does not decode.
    """
    if isinstance(extension_value, (bytes, bytearray)) and \
            len(extension_value) > MAX_EXTENSION_BYTES:
        raise errors.MalformedAC(
            'the VOMS extension is %d bytes long; at most %d are accepted'
            % (len(extension_value), MAX_EXTENSION_BYTES))
    try:
        outer = _VomsACs.load(extension_value, strict=True)
        return [_parse_ac(ac) for group in outer for ac in group]
    except Exception as exc:  # noqa: BLE001 - fail closed on any decoder
        # failure (hostile input can raise more than ValueError)
        raise errors.MalformedAC(
            'the VOMS attribute certificate cannot be decoded: %s'
            % (_short(exc),)) from None


def _short(exc, limit=200):
    """``exc``'s message cut to ``limit`` characters (decoder messages
    may quote the hostile input), or its type name when empty."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + '...'


def _directory_names(general_names):
    """DER of each GeneralName, ``b''`` for those not a directoryName."""
    return tuple(g.chosen.untag().dump() if g.name == 'directory_name'
                 else b'' for g in general_names)


def _utc(value):
    return value.astimezone(datetime.timezone.utc)


def _parse_ac(ac):
    info = ac['ac_info']
    tbs = info.dump()
    if info['version'].native != 'v2':
        raise ValueError('AC version is not v2')
    outer_alg = ac['signature_algorithm']['algorithm'].dotted
    if outer_alg != info['signature']['algorithm'].dotted:
        raise ValueError('signature algorithms inside and outside the '
                         'signed part differ')
    holder = info['holder']
    holder_issuer, holder_serial = (), None
    base = holder['base_certificate_id']
    if not isinstance(base, core.Void):
        holder_issuer = _directory_names(base['issuer'])
        holder_serial = base['serial'].native
    issuer = info['issuer']
    if issuer.name == 'v2_form':
        issuer_names = _directory_names(issuer.chosen['issuer_name'])
    else:
        issuer_names = _directory_names(issuer.chosen)
    validity = info['att_cert_validity_period']

    vo = uri = None
    fqans = []
    for attribute in info['attributes']:
        if attribute['type'].dotted != OID_VOMS_FQANS:
            continue
        for value in attribute['values']:
            syntax = cms.IetfAttrSyntax.load(value.dump(), strict=True)
            for name in syntax['policy_authority']:
                if name.name == 'uniform_resource_identifier':
                    vo, uri = _vo_and_uri(name.chosen)
            for item in syntax['values']:
                if item.name != 'octets':
                    raise ValueError('an FQAN is not an OCTET STRING')
                fqans.append(item.native.decode('utf-8'))

    server_certs = []
    targets = None
    generic = ()
    unknown_critical = []
    extensions = info['extensions']
    for ext in () if isinstance(extensions, core.Void) else extensions:
        oid = ext['extn_id'].dotted
        raw = ext['extn_value'].contents
        if oid == OID_VOMS_CERTS:
            groups = _CertGroups.load(raw, strict=True)
            server_certs = [
                checked(x509.load_der_x509_certificate(c.dump()),
                        'a VOMS server certificate in the AC')
                for group in groups for c in group]
        elif oid == OID_TARGETS:
            targets = _parse_targets(raw)
        elif oid == OID_VOMS_TAGS:
            generic = _parse_generic_attributes(raw)
        elif ext['critical'].native and oid not in KNOWN_EXTENSIONS:
            unknown_critical.append(oid)

    return AttributeCertificate(
        tbs=tbs, signature_oid=outer_alg,
        signature=ac['signature'].native,
        holder_issuer=holder_issuer, holder_serial=holder_serial,
        issuer_names=tuple(n for n in issuer_names if n),
        serial=info['serial_number'].native,
        not_before=_utc(validity['not_before_time'].native),
        not_after=_utc(validity['not_after_time'].native),
        vo=vo, uri=uri, fqans=tuple(fqans),
        server_certs=tuple(server_certs),
        targets=targets, unknown_critical=tuple(unknown_critical),
        generic_attributes=generic)


def _vo_and_uri(authority):
    """VO and server URI from the policy authority ``<vo>://<host>:<port>``
    exactly as the AC states them, as libvomsapi reads them: from the raw
    IA5String, not asn1crypto's normalised URI (which lower-cases and
    percent-decodes, turning VO ``MyVO`` into ``myvo``).

    :raises ValueError: the value is not ASCII.
    """
    raw = bytes(authority.contents or b'').decode('ascii')
    vo, _, uri = raw.partition('://')
    return vo, uri


def _parse_targets(raw):
    """Target names (URI or DNS name) of id-ce-targetInformation."""
    names = []
    for targets in _TargetInformation.load(raw, strict=True):
        for target in targets:
            if target.name != 'target_name':
                names.append('<%s>' % target.name)
                continue
            general = target.chosen
            if general.name in ('uniform_resource_identifier', 'dns_name'):
                names.append(general.native)
            else:
                names.append('<%s>' % general.name)
    return tuple(names)


def _parse_generic_attributes(raw):
    """(name, value, qualifier) of every VOMS Generic Attribute of
    extension 1.3.6.1.4.1.8005.100.100.11, in AC order. The texts are
    UTF-8 as VOMS writes them; undecodable bytes become U+FFFD (a GA never
    makes an AC unreadable; it is signed with the AC, not checked here).

    :raises ValueError: the structure does not decode.
    """
    found = []
    for holder in _GenericAttributes.load(raw, strict=True)['providers']:
        for attribute in holder['attributes']:
            found.append(tuple(
                bytes(attribute[field].native or b'').decode(
                    'utf-8', 'replace')
                for field in ('name', 'value', 'qualifier')))
    return tuple(found)
