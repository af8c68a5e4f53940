"""Decoding of VOMS attribute certificates (RFC 5755, VOMS profile GFD.182).

Decoding only: :func:`parse_acs` turns the value of the proxy extension
1.3.6.1.4.1.8005.100.100.5 into :class:`AttributeCertificate` objects; the
checks are in :mod:`voms_auth.voms.verifier`.

The schemas come from ``pyasn1-modules`` (``rfc5755``, ``rfc5280``), with
``Any`` put in place of the parts that are only compared byte for byte (the
to-be-signed ``acinfo``, holder and issuer names): the signature must be
checked over the exact bytes received, and decoding names with pyasn1 is
the slowest part of an AC (measured ~600 us of ~650 us per AC).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Optional, Tuple

from cryptography import x509
from pyasn1.codec.der import decoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import namedtype, tag, univ
from pyasn1_modules import rfc5280, rfc5755

from voms_auth.voms import errors

OID_VOMS_ACS = x509.ObjectIdentifier('1.3.6.1.4.1.8005.100.100.5')
OID_VOMS_FQANS = '1.3.6.1.4.1.8005.100.100.4'
OID_VOMS_CERTS = '1.3.6.1.4.1.8005.100.100.10'
OID_VOMS_TAGS = '1.3.6.1.4.1.8005.100.100.11'
OID_TARGETS = '2.5.29.55'
OID_NO_REV_AVAIL = '2.5.29.56'
OID_AKI = '2.5.29.35'

#: AC extensions understood here; any other critical one is refused.
KNOWN_EXTENSIONS = frozenset(
    (OID_VOMS_CERTS, OID_VOMS_TAGS, OID_TARGETS, OID_NO_REV_AVAIL, OID_AKI))

_DIRECTORY_NAME_TAG = 0xa4  # GeneralName directoryName [4] (constructed)


class _RawSeq(univ.SequenceOf):
    componentType = univ.Any()


class _VomsACs(univ.SequenceOf):
    """The extension value: SEQUENCE OF SEQUENCE OF AttributeCertificate."""

    componentType = _RawSeq()


class _AC(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType('acinfo', univ.Any()),
        namedtype.NamedType('signatureAlgorithm',
                            rfc5280.AlgorithmIdentifier()),
        namedtype.NamedType('signatureValue', univ.BitString()))


class _IssuerSerial(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType('issuer', _RawSeq()),
        namedtype.NamedType('serial', univ.Integer()),
        namedtype.OptionalNamedType('issuerUID', univ.BitString()))


class _Holder(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.OptionalNamedType(
            'baseCertificateID', _IssuerSerial().subtype(
                implicitTag=tag.Tag(tag.tagClassContext,
                                    tag.tagFormatConstructed, 0))),
        namedtype.OptionalNamedType(
            'entityName', _RawSeq().subtype(
                implicitTag=tag.Tag(tag.tagClassContext,
                                    tag.tagFormatConstructed, 1))),
        namedtype.OptionalNamedType(
            'objectDigestInfo', rfc5755.ObjectDigestInfo().subtype(
                implicitTag=tag.Tag(tag.tagClassContext,
                                    tag.tagFormatConstructed, 2))))


class _V2Form(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.OptionalNamedType('issuerName', _RawSeq()),
        namedtype.OptionalNamedType(
            'baseCertificateID', _IssuerSerial().subtype(
                implicitTag=tag.Tag(tag.tagClassContext,
                                    tag.tagFormatConstructed, 0))),
        namedtype.OptionalNamedType(
            'objectDigestInfo', rfc5755.ObjectDigestInfo().subtype(
                implicitTag=tag.Tag(tag.tagClassContext,
                                    tag.tagFormatConstructed, 1))))


class _Attribute(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType('type', univ.ObjectIdentifier()),
        namedtype.NamedType('values', univ.SetOf(componentType=univ.Any())))


class _ACInfo(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType('version', rfc5755.AttCertVersion()),
        namedtype.NamedType('holder', _Holder()),
        namedtype.NamedType('issuer', _V2Form().subtype(
            implicitTag=tag.Tag(tag.tagClassContext,
                                tag.tagFormatConstructed, 0))),
        namedtype.NamedType('signature', rfc5280.AlgorithmIdentifier()),
        namedtype.NamedType('serialNumber', univ.Integer()),
        namedtype.NamedType('attrCertValidityPeriod',
                            rfc5755.AttCertValidityPeriod()),
        namedtype.NamedType('attributes',
                            univ.SequenceOf(componentType=_Attribute())),
        namedtype.OptionalNamedType('issuerUniqueID', univ.BitString()),
        namedtype.OptionalNamedType('extensions', rfc5280.Extensions()))


@dataclasses.dataclass(frozen=True)
class AttributeCertificate:
    """One decoded VOMS AC; nothing in it is verified yet."""

    der: bytes
    tbs: bytes                       # exact DER of acinfo (signed bytes)
    signature_oid: str
    signature: bytes
    holder_issuer: Tuple[bytes, ...]  # raw GeneralName TLVs
    holder_serial: Optional[int]
    issuer_names: Tuple[bytes, ...]   # raw GeneralName TLVs
    serial: int
    not_before: datetime.datetime
    not_after: datetime.datetime
    vo: Optional[str]
    uri: Optional[str]
    fqans: Tuple[str, ...]
    server_certs: Tuple[x509.Certificate, ...]
    targets: Optional[Tuple[str, ...]]  # None: no targets extension
    unknown_critical: Tuple[str, ...]

    @property
    def issuer_name_ders(self) -> Tuple[bytes, ...]:
        """DER of the directory names among the AC issuer names."""
        return tuple(n for n in (_directory_name(g)
                                 for g in self.issuer_names) if n)


def directory_name_der(general_name: bytes) -> Optional[bytes]:
    """Public alias of :func:`_directory_name`."""
    return _directory_name(general_name)


def _directory_name(general_name: bytes) -> Optional[bytes]:
    """The Name DER inside a raw ``[4] directoryName`` GeneralName."""
    if not general_name or general_name[0] != _DIRECTORY_NAME_TAG:
        return None
    length = general_name[1]
    start = 2
    if length & 0x80:
        start += length & 0x7f
    return bytes(general_name[start:])


def _time(value) -> datetime.datetime:
    return value.asDateTime.astimezone(datetime.timezone.utc)


def parse_acs(extension_value: bytes):
    """Decode the VOMS ACs of a proxy extension, in order.

    :raises MalformedAC: when anything does not decode.
    """
    try:
        outer, rest = decoder.decode(extension_value, asn1Spec=_VomsACs())
        if rest:
            raise PyAsn1Error('trailing data')
        return [_parse_ac(bytes(ac)) for group in outer for ac in group]
    except Exception as exc:  # noqa: BLE001 - fail closed on any decoder
        # failure (pyasn1 raises more than PyAsn1Error on hostile input)
        raise errors.MalformedAC(
            'the VOMS attribute certificate cannot be decoded: %s'
            % (exc,)) from None


def _parse_ac(der):
    ac, rest = decoder.decode(der, asn1Spec=_AC())
    if rest:
        raise PyAsn1Error('trailing data after the AC')
    tbs = bytes(ac['acinfo'])
    info, rest = decoder.decode(tbs, asn1Spec=_ACInfo())
    if rest:
        raise PyAsn1Error('trailing data after acinfo')
    if int(info['version']) != 1:
        raise PyAsn1Error('AC version is not v2')
    outer_alg = ac['signatureAlgorithm']['algorithm']
    if outer_alg != info['signature']['algorithm']:
        raise PyAsn1Error('signature algorithms inside and outside the '
                          'signed part differ')
    holder = info['holder']
    holder_issuer, holder_serial = (), None
    if holder['baseCertificateID'].isValue:
        base = holder['baseCertificateID']
        holder_issuer = tuple(bytes(g) for g in base['issuer'])
        holder_serial = int(base['serial'])
    issuer = info['issuer']
    issuer_names = ()
    if issuer['issuerName'].isValue:
        issuer_names = tuple(bytes(g) for g in issuer['issuerName'])
    validity = info['attrCertValidityPeriod']

    vo = uri = None
    fqans = []
    for attribute in info['attributes']:
        if str(attribute['type']) != OID_VOMS_FQANS:
            continue
        for value in attribute['values']:
            syntax, rest = decoder.decode(
                bytes(value), asn1Spec=rfc5755.IetfAttrSyntax())
            if rest:
                raise PyAsn1Error('trailing data after the FQANs')
            authority = syntax['policyAuthority']
            if authority.isValue:
                for name in authority:
                    if name.getName() == 'uniformResourceIdentifier':
                        vo, _, uri = str(name.getComponent()).partition(
                            '://')
            for item in syntax['values']:
                if item.getName() != 'octets':
                    raise PyAsn1Error('an FQAN is not an OCTET STRING')
                fqans.append(bytes(item.getComponent()).decode('utf-8'))

    server_certs = []
    targets = None
    unknown_critical = []
    if info['extensions'].isValue:
        for ext in info['extensions']:
            oid = str(ext['extnID'])
            value = bytes(ext['extnValue'])
            if oid == OID_VOMS_CERTS:
                # SEQUENCE OF SEQUENCE OF Certificate (server, its CAs)
                groups, rest = decoder.decode(value, asn1Spec=_VomsACs())
                if rest:
                    raise PyAsn1Error('trailing data after AC certificates')
                server_certs = [x509.load_der_x509_certificate(bytes(c))
                                for group in groups for c in group]
            elif oid == OID_TARGETS:
                targets = _parse_targets(value)
            elif bool(ext['critical']) and oid not in KNOWN_EXTENSIONS:
                unknown_critical.append(oid)

    return AttributeCertificate(
        der=der, tbs=tbs,
        signature_oid=str(ac['signatureAlgorithm']['algorithm']),
        signature=ac['signatureValue'].asOctets(),
        holder_issuer=holder_issuer, holder_serial=holder_serial,
        issuer_names=issuer_names, serial=int(info['serialNumber']),
        not_before=_time(validity['notBeforeTime']),
        not_after=_time(validity['notAfterTime']),
        vo=vo, uri=uri, fqans=tuple(fqans),
        server_certs=tuple(server_certs),
        targets=targets, unknown_critical=tuple(unknown_critical))


class _Targets(univ.SequenceOf):
    componentType = rfc5755.Targets()


def _parse_targets(value):
    """Target names (URI or DNS name) of id-ce-targetInformation."""
    outer, rest = decoder.decode(value, asn1Spec=_Targets())
    if rest:
        raise PyAsn1Error('trailing data after the targets')
    names = []
    for targets in outer:
        for target in targets:
            if target.getName() != 'targetName':
                names.append('<%s>' % target.getName())
                continue
            general = target.getComponent()
            kind = general.getName()
            if kind in ('uniformResourceIdentifier', 'dNSName'):
                names.append(str(general.getComponent()))
            else:
                names.append('<%s>' % kind)
    return tuple(names)
