"""Decoding of VOMS attribute certificates (RFC 5755, VOMS profile GFD.182).

Decoding only: :func:`parse_acs` turns the value of the proxy extension
1.3.6.1.4.1.8005.100.100.5 into :class:`AttributeCertificate` objects; the
checks are in :mod:`voms_auth.voms.verifier`.

Why a hand-written DER walk (:mod:`voms_auth.voms.der`) and no ASN.1
framework: the AC decode was the largest single cost of an uncached
verification. pyasn1-modules' ``rfc5755`` took ~600 us per AC; asn1crypto
(``cms.AttributeCertificateV2``), which replaced it, still took ~450 us of
a ~1,800 us verification with RSA CAs (27 % of its instructions per
callgrind, issue 15), where the three signature checks it must do take
~90 us. The walk below reads only the fields the verifier uses, in ~40 us
(``bench/bench_voms.py`` prints the figures). It stays fuzz-safe: every
offset is bounds-checked by :func:`voms_auth.voms.der.read`, nothing
recurses, and any failure is :class:`~voms_auth.voms.errors.MalformedAC`
(``tests/fuzz/test_fuzz_voms.py``). The signature is checked over the
exact ``acinfo`` bytes received.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
from typing import Optional, Tuple

from asn1crypto import x509 as asn1_x509
from cryptography import x509

from voms_auth.voms import der, errors
from voms_auth.voms.certs import checked
from voms_auth.voms.records import built

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



#: Most VOMS server certificates kept decoded (:func:`_server_cert`).
_SERVER_CERT_MEMO_SIZE = 256
_server_cert_memo = {}
_server_cert_memo_lock = threading.Lock()


def parse_acs(extension_value: bytes):
    """Decode the VOMS ACs of a proxy extension, in order.

    :raises MalformedAC: when anything does not decode.
    """
    if not isinstance(extension_value, (bytes, bytearray)):
        raise errors.MalformedAC(
            'the VOMS extension value is not bytes (%s)'
            % type(extension_value).__name__)
    if len(extension_value) > MAX_EXTENSION_BYTES:
        raise errors.MalformedAC(
            'the VOMS extension is %d bytes long; at most %d are accepted'
            % (len(extension_value), MAX_EXTENSION_BYTES))
    data = bytes(extension_value)
    try:
        # SEQUENCE OF SEQUENCE OF AttributeCertificate
        start, end = der.only(data, 0, len(data), der.SEQUENCE,
                              'VOMS extension')
        found = []
        for tag, _, gstart, gend in der.children(data, start, end):
            if tag != der.SEQUENCE:
                raise der.DERError('an AC group is not a SEQUENCE')
            for tag, _, cstart, cend in der.children(data, gstart, gend):
                if tag != der.SEQUENCE:
                    raise der.DERError('an AC is not a SEQUENCE')
                found.append(_parse_ac(data, cstart, cend))
        return found
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


def _fields(data, start, end, count_max, what):
    """The elements of a SEQUENCE content as ``[(tag, pos, cstart,
    cend)]``, at most ``count_max``."""
    items = der.children(data, start, end)
    if len(items) > count_max:
        raise der.DERError('%s has %d fields' % (what, len(items)))
    return items


def _algorithm(data, start, end, what):
    """The OID of an AlgorithmIdentifier content (parameters, if any,
    are not read)."""
    items = _fields(data, start, end, 2, what)
    if not items or items[0][0] != der.OID:
        raise der.DERError('%s has no algorithm OID' % what)
    return der.oid(data, items[0][2], items[0][3])


def _directory_names(data, start, end):
    """DER of each GeneralName of GeneralNames content ``data[start:end]``,
    ``b''`` for those not a directoryName ([4], explicitly tagged Name)."""
    names = []
    for tag, _, cstart, cend in der.children(data, start, end):
        if tag == 0xA4:
            der.only(data, cstart, cend, der.SEQUENCE, 'directoryName')
            names.append(data[cstart:cend])
        else:
            names.append(b'')
    return tuple(names)


_UTC = datetime.timezone.utc


def _time(data, start, end):
    """An aware UTC datetime from GeneralizedTime content
    ``YYYYMMDDHHMMSS[.f*]Z`` (the DER form RFC 5755 requires)."""
    text = data[start:end].decode('ascii')
    if len(text) < 15 or text[-1] != 'Z' or not text[:14].isdigit():
        raise der.DERError('a validity time is not YYYYMMDDHHMMSSZ')
    fraction = text[14:-1]
    micro = 0
    if fraction:
        if fraction[0] != '.' or not fraction[1:].isdigit():
            raise der.DERError('bad fraction in a validity time')
        micro = int((fraction[1:] + '000000')[:6])
    # (two ints split arithmetically, each small enough for one machine
    # word, and tzinfo given by position: 0.9 us where six int() calls
    # and a keyword cost 1.6)
    date, clock = int(text[:8]), int(text[8:14])
    return datetime.datetime(
        date // 10000, date // 100 % 100, date % 100, clock // 10000,
        clock // 100 % 100, clock % 100, micro, _UTC)


def _parse_ac(data, start, end):
    """One AttributeCertificate from its SEQUENCE content.

    What two ACs of the same person from the same server share (holder,
    issuer, signature algorithms, attributes, extensions with the
    server's certificate) is decoded once and remembered by its bytes
    (:func:`_stable_part`); serial number, validity and signature, new in
    each AC, are read every time."""
    parts = _fields(data, start, end, 3, 'AttributeCertificate')
    if len(parts) != 3 or parts[0][0] != der.SEQUENCE or \
            parts[1][0] != der.SEQUENCE or parts[2][0] != der.BIT_STRING:
        raise der.DERError('an AC is not (acinfo, algorithm, signature)')
    (_, ipos, istart, iend), (_, apos, astart, aend), (_, _, sstart, send) \
        = parts
    if sstart >= send or data[sstart] != 0:
        raise der.DERError('the AC signature has unused bits')

    info = _fields(data, istart, iend, 9, 'acinfo')
    if len(info) < 7:
        raise der.DERError('acinfo has %d fields' % len(info))
    version, holder, issuer, alg, serial, validity, attributes = info[:7]
    if version[0] != der.INTEGER or der.integer(
            data, version[2], version[3]) != 1:
        raise der.DERError('AC version is not v2')
    if alg[0] != der.SEQUENCE or serial[0] != der.INTEGER or \
            validity[0] != der.SEQUENCE or attributes[0] != der.SEQUENCE \
            or holder[0] != der.SEQUENCE:
        raise der.DERError('acinfo fields have unexpected types')
    # Looked up by the holder-to-serial bytes, the algorithm and the
    # length and last bytes of the attributes-to-end part; that part is
    # then compared in place (no copy: hashing its 2-6 KB at each login
    # cost more than the rest of the lookup).
    key = (data[holder[1]:serial[1]], data[apos:aend], iend - attributes[1],
           data[max(attributes[1], iend - 32):iend])
    stable = _stable.get(key)
    if stable is None or not data.startswith(stable[2], attributes[1]):
        shared, server_ders = _stable_part(
            data, (astart, aend), holder, issuer, alg, attributes, info[7:])
        if len(key[0]) + key[2] <= _STABLE_LONGEST:
            with _stable_lock:
                if len(_stable) >= _STABLE_SIZE:
                    _stable.clear()
                _stable[key] = (shared, server_ders,
                                data[attributes[1]:iend])
    else:
        shared, server_ders, _ = stable
    times = _fields(data, validity[2], validity[3], 2, 'validity')
    if len(times) != 2 or any(t[0] != der.GENERALIZED_TIME for t in times):
        raise der.DERError('the AC validity is not two GeneralizedTimes')
    return built(AttributeCertificate, dict(
        shared, tbs=data[ipos:iend], signature=data[sstart + 1:send],
        serial=der.integer(data, serial[2], serial[3]),
        not_before=_time(data, times[0][2], times[0][3]),
        not_after=_time(data, times[1][2], times[1][3]),
        server_certs=tuple(map(_server_cert, server_ders))))


#: Most stable AC parts remembered (:func:`_stable_part`): one per
#: person, VO and server, 3-5 KB each (its key, the decoded fields, the
#: server certificates' DER, the attributes-to-end bytes compared in
#: place).
_STABLE_SIZE = 1024
#: Longest stable part remembered (holder to serial, attributes and
#: extensions, in bytes): a usual AC's is 2-6 KB (the server's
#: certificate, up to 100 FQANs); a longer one is decoded at each use.
#: Entries hold bytes, never a decoded certificate (those are looked up in
#: :func:`_server_cert`'s bounded memo at each use): what the memo holds
#: is bounded by 1,024 stable parts of at most 16 KB each, however many
#: certificates its ACs carry.
_STABLE_LONGEST = 16 * 1024
_stable = {}
_stable_lock = threading.Lock()


def _stable_part(data, outer, holder, issuer, alg, attributes, rest):
    """(the fields of :class:`AttributeCertificate` decoded from the parts
    of an AC that two ACs of the same person and server share, as keyword
    arguments, the DER of its server certificates, each checked): the
    signature algorithm (outer ``data[outer[0]:outer[1]]``, inner ``alg``,
    which must agree), holder, issuer, attributes, and the extensions
    (``rest``: acinfo's fields after the attributes)."""
    outer_alg = _algorithm(data, outer[0], outer[1], 'signatureAlgorithm')
    if outer_alg != _algorithm(data, alg[2], alg[3], 'signature'):
        raise ValueError('signature algorithms inside and outside the '
                         'signed part differ')
    holder_issuer, holder_serial = _holder(data, holder[2], holder[3])
    issuer_names = _issuer(data, issuer)
    vo, uri, fqans = _attributes(data, attributes[2], attributes[3])
    if rest and rest[0][0] == der.BIT_STRING:     # issuerUniqueID
        rest = rest[1:]
    server_ders, targets, generic, unknown_critical = (), None, (), []
    if rest:
        if len(rest) != 1 or rest[0][0] != der.SEQUENCE:
            raise der.DERError('acinfo ends with unexpected fields')
        for oid, critical, raw in _extensions(data, rest[0][2],
                                              rest[0][3]):
            if oid == OID_VOMS_CERTS:
                server_ders = _server_cert_ders(raw)
            elif oid == OID_TARGETS:
                targets = _parse_targets(raw)
            elif oid == OID_VOMS_TAGS:
                generic = _parse_generic_attributes(raw)
            elif critical and oid not in KNOWN_EXTENSIONS:
                unknown_critical.append(oid)
    return dict(
        signature_oid=outer_alg, holder_issuer=holder_issuer,
        holder_serial=holder_serial,
        issuer_names=tuple(n for n in issuer_names if n),
        vo=vo, uri=uri, fqans=tuple(fqans),
        targets=targets, unknown_critical=tuple(unknown_critical),
        generic_attributes=generic), server_ders


def _holder(data, start, end):
    """(directory names, serial) of Holder.baseCertificateID ([0]
    IssuerSerial), or ``((), None)`` without one."""
    for tag, _, cstart, cend in der.children(data, start, end):
        if tag != 0xA0:
            continue        # entityName [1] / objectDigestInfo [2]
        items = _fields(data, cstart, cend, 3, 'IssuerSerial')
        if len(items) < 2 or items[0][0] != der.SEQUENCE or \
                items[1][0] != der.INTEGER:
            raise der.DERError('bad holder IssuerSerial')
        return (_directory_names(data, items[0][2], items[0][3]),
                der.integer(data, items[1][2], items[1][3]))
    return (), None


def _issuer(data, issuer):
    """Directory names of AttCertIssuer: v2Form [0] (issuerName first,
    optional) or v1Form GeneralNames."""
    tag, _, start, end = issuer
    if tag == 0xA0:
        for item_tag, _, cstart, cend in der.children(data, start, end):
            if item_tag == der.SEQUENCE:
                return _directory_names(data, cstart, cend)
            break
        return ()
    if tag == der.SEQUENCE:
        return _directory_names(data, start, end)
    raise der.DERError('bad AC issuer')


def _attributes(data, start, end):
    """(vo, uri, fqans) of the FQAN attribute(s) (IetfAttrSyntax)."""
    vo = uri = None
    fqans = []
    for tag, _, cstart, cend in der.children(data, start, end):
        if tag != der.SEQUENCE:
            raise der.DERError('an AC attribute is not a SEQUENCE')
        items = _fields(data, cstart, cend, 2, 'Attribute')
        if len(items) != 2 or items[0][0] != der.OID or \
                items[1][0] != der.SET:
            raise der.DERError('bad AC attribute')
        if der.oid(data, items[0][2], items[0][3]) != OID_VOMS_FQANS:
            continue
        for vtag, _, vstart, vend in der.children(data, items[1][2],
                                                  items[1][3]):
            if vtag != der.SEQUENCE:
                raise der.DERError('IetfAttrSyntax is not a SEQUENCE')
            parts = _fields(data, vstart, vend, 2, 'IetfAttrSyntax')
            if parts and parts[0][0] == 0xA0:
                for ntag, _, nstart, nend in der.children(
                        data, parts[0][2], parts[0][3]):
                    if ntag == 0x86:          # uniformResourceIdentifier
                        vo, uri = _vo_and_uri(data[nstart:nend])
                parts = parts[1:]
            if len(parts) != 1 or parts[0][0] != der.SEQUENCE:
                raise der.DERError('IetfAttrSyntax has no values')
            for itag, _, istart, iend in der.children(data, parts[0][2],
                                                      parts[0][3]):
                if itag != der.OCTET_STRING:
                    raise ValueError('an FQAN is not an OCTET STRING')
                fqans.append(data[istart:iend].decode('utf-8'))
    return vo, uri, fqans


def _extensions(data, start, end):
    """``(oid, critical, value bytes)`` of each Extension."""
    found = []
    for tag, _, cstart, cend in der.children(data, start, end):
        if tag != der.SEQUENCE:
            raise der.DERError('an AC extension is not a SEQUENCE')
        items = _fields(data, cstart, cend, 3, 'Extension')
        if len(items) < 2 or items[0][0] != der.OID:
            raise der.DERError('bad AC extension')
        critical = False
        if len(items) == 3:
            if items[1][0] != der.BOOLEAN:
                raise der.DERError('bad AC extension criticality')
            critical = der.boolean(data, items[1][2], items[1][3])
        value = items[-1]
        if value[0] != der.OCTET_STRING:
            raise der.DERError('an AC extension value is not an OCTET '
                               'STRING')
        found.append((der.oid(data, items[0][2], items[0][3]), critical,
                      data[value[2]:value[3]]))
    return found


def _server_cert_ders(raw):
    """The DER of the certificates of extension .10 (SEQUENCE OF SEQUENCE
    OF Certificate), each checked (:func:`_server_cert`)."""
    start, end = der.only(raw, 0, len(raw), der.SEQUENCE, 'AC certificates')
    blobs = []
    for tag, _, gstart, gend in der.children(raw, start, end):
        if tag != der.SEQUENCE:
            raise der.DERError('an AC certificate group is not a SEQUENCE')
        for _, pos, _, cend in der.children(raw, gstart, gend):
            blobs.append(raw[pos:cend])
            _server_cert(blobs[-1])
    return tuple(blobs)


def _server_cert(blob):
    """The checked certificate of DER ``blob``, memoized (bounded).

    :raises MalformedCredential: (a subclass) it does not decode.
    """
    cert = _server_cert_memo.get(blob)
    if cert is None:
        cert = checked(x509.load_der_x509_certificate(blob),
                       'a VOMS server certificate in the AC')
        with _server_cert_memo_lock:
            if len(_server_cert_memo) >= _SERVER_CERT_MEMO_SIZE:
                _server_cert_memo.clear()
            _server_cert_memo[blob] = cert
    return cert


def _vo_and_uri(raw):
    """VO and server URI from the policy authority ``<vo>://<host>:<port>``
    exactly as the AC states them, as libvomsapi reads them: from the raw
    IA5String (not a normalised URI, which would lower-case and
    percent-decode, turning VO ``MyVO`` into ``myvo``).

    :raises ValueError: the value is not ASCII.
    """
    text = bytes(raw).decode('ascii')
    vo, _, uri = text.partition('://')
    return vo, uri


def _parse_targets(raw):
    """Target names (URI or DNS name) of id-ce-targetInformation, others
    as ``<kind>``. Rare, so the names are decoded as before with
    asn1crypto's GeneralName (IDNA host names, IRI forms)."""
    names = []
    start, end = der.only(raw, 0, len(raw), der.SEQUENCE,
                          'targetInformation')
    for tag, _, tstart, tend in der.children(raw, start, end):
        if tag != der.SEQUENCE:
            raise der.DERError('Targets is not a SEQUENCE')
        for ttag, _, cstart, cend in der.children(raw, tstart, tend):
            if ttag == 0xA1:
                names.append('<target_group>')
                continue
            if ttag in (0xA2, 0x82):
                names.append('<target_cert>')
                continue
            if ttag != 0xA0:
                raise der.DERError('unknown Target choice')
            _, gstart, gend = der.read(raw, cstart, cend)
            if gend != cend:
                raise der.DERError('trailing bytes in a target name')
            general = asn1_x509.GeneralName.load(raw[cstart:cend],
                                                 strict=True)
            if general.name in ('uniform_resource_identifier', 'dns_name'):
                names.append(general.native)
            else:
                names.append('<%s>' % general.name)
    return tuple(names)


def _parse_generic_attributes(raw):
    """(name, value, qualifier) of every VOMS Generic Attribute of
    extension 1.3.6.1.4.1.8005.100.100.11 (``AC_FULL_ATTRIBUTES``:
    SEQUENCE { SEQUENCE OF AC_ATT_HOLDER { grantor GeneralNames,
    SEQUENCE OF AC_ATTRIBUTE { name, value, qualifier OCTET STRINGs }}}),
    in AC order. The texts are UTF-8 as VOMS writes them; undecodable
    bytes become U+FFFD (a GA never makes an AC unreadable; it is signed
    with the AC, not checked here).

    :raises ValueError: the structure does not decode.
    """
    found = []
    start, end = der.only(raw, 0, len(raw), der.SEQUENCE,
                          'AC_FULL_ATTRIBUTES')
    top = _fields(raw, start, end, 1, 'AC_FULL_ATTRIBUTES')
    if len(top) != 1 or top[0][0] != der.SEQUENCE:
        raise der.DERError('AC_FULL_ATTRIBUTES holds no provider list')
    for tag, _, hstart, hend in der.children(raw, top[0][2], top[0][3]):
        holder = _fields(raw, hstart, hend, 2, 'AC_ATT_HOLDER')
        if tag != der.SEQUENCE or len(holder) != 2 or \
                holder[0][0] != der.SEQUENCE or \
                holder[1][0] != der.SEQUENCE:
            raise der.DERError('bad AC_ATT_HOLDER')
        for atag, _, astart, aend in der.children(raw, holder[1][2],
                                                  holder[1][3]):
            fields = _fields(raw, astart, aend, 3, 'AC_ATTRIBUTE')
            if atag != der.SEQUENCE or len(fields) != 3 or any(
                    f[0] != der.OCTET_STRING for f in fields):
                raise der.DERError('bad AC_ATTRIBUTE')
            found.append(tuple(raw[f[2]:f[3]].decode('utf-8', 'replace')
                               for f in fields))
    return tuple(found)
