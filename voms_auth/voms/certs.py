"""Loading certificates so that corrupt ones fail early, with a reason.

``cryptography`` decodes names and extensions lazily and raises, for
hostile input, more than ``ValueError`` (``DuplicateExtension``,
``InvalidVersion``, ``UnsupportedGeneralNameType``, ``TypeError``, ...).
Everything here turns those into the documented
:class:`~voms_auth.voms.errors.MalformedCredential` subclasses, and bounds
the size of what is decoded.
"""

import binascii
import re
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from voms_auth.voms import der, errors, names

#: Largest PEM input accepted (a proxy file is 5-15 KB).
MAX_PEM_BYTES = 512 * 1024
#: Most certificates in one presented chain (proxies, EEC, CAs).
MAX_CERTIFICATES = 40
#: Largest DER certificate accepted (a proxy with a VOMS AC is ~4 KB).
MAX_DER_BYTES = 64 * 1024

PemInput = Union[str, bytes, bytearray, memoryview]


def pem_bytes(data, what: str = 'the input') -> bytes:
    """``data`` (``str`` or bytes-like) as ``bytes``, within
    :data:`MAX_PEM_BYTES`.

    :raises MalformedCredential: ``data`` is not text or bytes.
    :raises CredentialTooLarge: it is longer than :data:`MAX_PEM_BYTES`.
    """
    if isinstance(data, str):
        data = data.encode('utf-8', 'replace')
    elif isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
    else:
        raise errors.MalformedCredential(
            '%s is not PEM text (a %s was given)' % (what,
                                                     type(data).__name__))
    if len(data) > MAX_PEM_BYTES:
        raise errors.CredentialTooLarge(
            '%s is %d bytes long; at most %d are accepted'
            % (what, len(data), MAX_PEM_BYTES))
    return data


def load_chain(pems: Sequence[bytes]) -> List[x509.Certificate]:
    """Every certificate of the PEM texts ``pems``, in order, each fully
    decoded (:func:`parse_fully`). A text of a certificate verified before
    and remembered (:func:`remember`: the user's certificate at each
    login) is loaded from its DER and not decoded or checked again.

    :raises MalformedCredential: (a subclass) for a text that is not a PEM
        certificate, a certificate that does not decode, or more than
        :data:`MAX_CERTIFICATES` / :data:`MAX_DER_BYTES`.
    """
    certs = []
    try:
        return _load_chain(pems, certs)
    except BaseException:
        forget(certs)     # (a refused chain leaves nothing behind)
        raise


def _load_chain(pems, certs):
    """:func:`load_chain`, each certificate appended to ``certs`` as it
    is loaded."""
    known = set()
    for index, pem in enumerate(pems):
        record = _known.get(pem)
        if record is not None:
            # (loaded and fully decoded before: the same bytes load again)
            cert = x509.load_der_x509_certificate(record[0])
            _register(cert, record[0], record[1], record[2], pem)
            known.add(len(certs))
            found = [cert]
        else:
            found = _load_pem(pem, index)
        certs.extend(found)
        if len(certs) > MAX_CERTIFICATES:
            raise errors.CredentialTooLarge(
                'the chain holds more than %d certificates'
                % MAX_CERTIFICATES)
    for index, cert in enumerate(certs):
        if index not in known:
            checked(cert, 'certificate %d of the chain' % index)
    return certs


def _load_pem(pem, index):
    """The certificates of the PEM text ``pem`` (text ``index`` of the
    chain).

    :raises MalformedCredential: (a subclass) it is no PEM certificate.
    """
    found = _load_canonical(pem)
    try:
        return found or x509.load_pem_x509_certificates(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise errors.MalformedCredential(
            'certificate %d of the chain is not a valid PEM certificate '
            '(truncated or corrupt: %s)' % (index, exc)) from None
    except Exception as exc:  # noqa: BLE001 - translated by kind
        raise decode_error(exc, 'certificate %d of the chain'
                           % index) from None


_PEM_HEAD = b'-----BEGIN CERTIFICATE-----'
_PEM_TAIL = b'-----END CERTIFICATE-----'


def _canonical_pem_der(pem: bytes):
    """The DER of ``pem`` when it is exactly one certificate block in
    canonical base64 (what mod_ssl, voms-proxy-init and the PEM splitter
    hand over), else ``None`` (then ``cryptography``'s PEM reader takes
    it, with its errors). Half the cost of that reader: base64 is decoded
    by ``binascii`` and checked canonical by re-encoding, so nothing is
    accepted here that the PEM reader would refuse."""
    if not pem.startswith(_PEM_HEAD):
        return None
    end = pem.find(_PEM_TAIL, len(_PEM_HEAD))
    if end < 0 or pem[end + len(_PEM_TAIL):].strip():
        return None
    body = pem[len(_PEM_HEAD):end].replace(b'\n', b'')
    if b'\r' in body:
        body = body.replace(b'\r', b'')
    try:
        blob = binascii.a2b_base64(body, strict_mode=True)
    except binascii.Error:
        return None
    # Canonical: the strict decoder refuses any other character, missing
    # padding, padding in the middle and data after it; what is left is
    # the unused bits of the last group, so only that group is encoded
    # again (the same verdict as encoding all of it, checked on 300,000
    # random texts; 4 us less a certificate).
    tail = len(blob) % 3
    if not blob or (tail and binascii.b2a_base64(
            blob[-tail:], newline=False) != body[-4:]):
        return None
    return blob


def _load_canonical(pem):
    """``[certificate]`` of a canonical one-block ``pem``
    (:func:`_canonical_pem_der`), its DER remembered for :func:`der_of`;
    ``None`` for anything else (left to the PEM reader)."""
    blob = _canonical_pem_der(pem)
    if blob is None:
        return None
    try:
        cert = x509.load_der_x509_certificate(blob)
    except Exception:  # noqa: BLE001 - the PEM reader words the refusal
        return None
    _register(cert, blob, None, {}, pem)
    return [cert]


# id(certificate) -> [certificate, its DER, its fields or None, its facts
# (:func:`remembered`), its PEM text or None] for certificates of a
# presented chain; the entry holds the certificate, so its id names no
# other object. The verifier drops its chain's entries when the call ends
# (:func:`forget`): a certificate kept past its call keeps its decoded
# names and extensions (~45 objects the cyclic garbage collector tracks),
# and such survivors made the collector's full passes over the heap (tens
# of ms) run inside requests. The size bound is for callers that never
# call :func:`forget`.
_DER_MEMO_SIZE = 256
_der_memo = {}

# PEM text -> (DER, Fields, facts) of certificates verified before
# (:func:`remember`): the user's certificate comes back byte for byte at
# every login, with a new proxy. Only bytes, tuples of bytes and the facts
# (booleans, small frozen objects): no certificate object survives its
# call here. Why: loading, decoding and checking the user's certificate
# again cost ~60 us of a ~440 us verification (issue 15); loading it
# from the remembered DER costs 2.5 us. Bounded: _KNOWN_SIZE entries of a
# certificate of at most _KNOWN_DER_BYTES (user certificates are 1-2 KB)
# whose PEM text is at most _KNOWN_PEM_BYTES (a 4 KB certificate's is
# 5.6 KB; a longer one is padded: a canonical text may hold any number of
# line breaks): ~5 KB an entry (PEM text, DER, slices), 14 MB at most.
_KNOWN_SIZE = 1024
_KNOWN_DER_BYTES = 4 * 1024
_KNOWN_PEM_BYTES = 6 * 1024
_known = {}


def _register(cert, blob, found, facts, pem):
    if len(_der_memo) >= _DER_MEMO_SIZE:
        _der_memo.clear()
    _der_memo[id(cert)] = [cert, blob, found, facts, pem]


def remember(cert: x509.Certificate) -> None:
    """Remember ``cert`` (of a presented chain, verified) by its PEM
    text: its DER, :class:`Fields` and facts (:func:`remembered`), so that
    :func:`load_chain` does not decode and check the same bytes again."""
    entry = _entry(cert)
    if entry is None or entry[4] is None or \
            len(entry[1]) > _KNOWN_DER_BYTES or \
            len(entry[4]) > _KNOWN_PEM_BYTES or entry[4] in _known:
        return
    found = fields(cert)
    if found is None:
        return
    if len(_known) >= _KNOWN_SIZE:
        _known.clear()
    _known[entry[4]] = (entry[1], found, entry[3])


def remembered(cert: x509.Certificate, what: str, compute):
    """``compute(cert)``, computed once for the bytes of ``cert``: kept
    with a certificate of a presented chain under the name ``what``, and
    with its bytes when it is remembered (:func:`remember`). ``compute``
    must depend on the certificate's bytes only (a verdict of its
    profile, its decoded ProxyCertInfo), never on time or trust; what it
    raises is raised each time, never kept."""
    entry = _der_memo.get(id(cert))       # (_entry, inlined: hot)
    if entry is None or entry[0] is not cert:
        return compute(cert)
    facts = entry[3]
    try:
        return facts[what]
    except KeyError:
        value = facts[what] = compute(cert)
        return value


def validity(cert: x509.Certificate) -> Tuple:
    """(notBefore, notAfter) of ``cert`` as aware UTC datetimes (each
    access to ``not_valid_*_utc`` builds a new datetime), kept with a
    certificate of a presented chain (:func:`remembered`)."""
    return remembered(cert, 'validity', _validity)


# -- a proxy's extensions, less its VOMS ACs --------------------------------

#: DER content of the OID of the VOMS AC extension (1.3.6.1.4.1.8005.100.
#: 100.5): ``cryptography`` keeps its value as raw bytes
#: (``UnrecognizedExtension``), and it is the one extension of a proxy that
#: changes with each proxy of the same person and tool.
VOMS_ACS_OID_DER = bytes.fromhex('2b06010401be45646405')

# (position of the VOMS AC extension, the extensions' DER without it) ->
# {name: fact} of :func:`remembered_for_extensions`, published by
# :func:`remember_extensions` once a verification succeeded. Why: every
# proxy of a person carries byte for byte the same other extensions (key
# usage, basic constraints, key identifier, ProxyCertInfo); decoding them
# through ``cryptography`` (~10 us in a verification) and checking the
# RFC 3820 rules on them came back at every login (issue 15). Sound
# because ``cryptography`` checks the framing of every extension when it
# loads a certificate (an explicit critical FALSE, a non-minimal length:
# refused at load; tests/unit/voms/test_returning_user.py pins it) and
# never decodes the VOMS AC one. Bounded: _PROFILES_SIZE entries of at
# most _PROFILE_LONGEST bytes (usual: 100-200) and their facts (a
# ProxyInfo holds a policy OID and a path length of the same bytes):
# ~10 MB at most.
_PROFILES_SIZE = 1024
_PROFILE_LONGEST = 4096
_profiles = {}
_FACT = 'extension facts'


def remembered_for_extensions(cert: x509.Certificate, what: str, compute):
    """``compute(cert)``, computed once for the bytes of ``cert``'s
    extensions but its VOMS AC extension: for every certificate of a
    presented chain whose extensions are those bytes plus one
    non-critical VOMS AC extension (:func:`_extension_profile`); else
    computed each time. ``compute`` must depend on ``cert``'s extensions
    only, and not on the value of that VOMS AC extension (which
    ``cryptography`` keeps as bytes and never decodes: whether the
    extensions decode is such a fact); what it raises is raised each
    time, never kept. A fact computed here is kept with ``cert`` for its
    call, and for the bytes only when :func:`remember_extensions`
    publishes it: a refused verification adds nothing.
    """
    profile = extension_profile(cert)
    if profile is None:
        return compute(cert)
    facts = _profiles.get(profile[0])
    if facts is not None and what in facts:
        return facts[what]
    pending = remembered(cert, _FACT, _no_facts)
    if what not in pending:
        pending[what] = compute(cert)
    return pending[what]


def _no_facts(cert):
    return {}


def remember_extensions(cert: x509.Certificate) -> None:
    """Keep for the bytes of ``cert``'s extension profile what
    :func:`remembered_for_extensions` computed for it (call it when the
    verification of ``cert``'s chain succeeded)."""
    entry = _der_memo.get(id(cert))
    if entry is None or entry[0] is not cert:
        return
    found = entry[3].get(_FACT)       # computed during this call
    profile = extension_profile(cert)
    if not found or profile is None or \
            len(profile[0][1]) > _PROFILE_LONGEST:
        return
    if len(_profiles) >= _PROFILES_SIZE:
        _profiles.clear()
    _profiles.setdefault(profile[0], {}).update(found)


def voms_acs_value(cert: x509.Certificate) -> Optional[bytes]:
    """The value of ``cert``'s VOMS AC extension, sliced from its DER,
    when :func:`extension_profile` read it; ``None`` otherwise (then it
    is read through ``cryptography``)."""
    profile = extension_profile(cert)
    return None if profile is None else profile[1]


def extension_profile(cert: x509.Certificate):
    """``((position of the VOMS AC extension, the DER of the other
    extensions), that extension's value)`` of a certificate of a
    presented chain whose extensions hold exactly one VOMS AC extension,
    encoded as ``SEQUENCE {OID, OCTET STRING}`` (not critical); ``None``
    for any other certificate. Computed once per certificate."""
    return remembered(cert, 'extension profile', _extension_profile)


def _extension_profile(cert):
    found = fields(cert)
    if found is None or not found.extensions:
        return None
    data, cut, oid = found.extensions, None, VOMS_ACS_OID_DER
    try:
        extensions = der.children(data, 0, len(data))
        for index, (tag, pos, start, stop) in enumerate(extensions):
            # (the OID's header read in place: one OID of under 128 bytes)
            if tag != der.SEQUENCE:
                return None
            if data[start] != der.OID or data[start + 1] != len(oid) or \
                    not data.startswith(oid, start + 2):
                continue
            tag, vstart, vend = der.read(data, start + 2 + len(oid), stop)
            # critical or odd: left to cryptography. Twice: refused by it
            # anyway (the other one stays in the key, never seen decoded),
            # and the value given must be unambiguous.
            if cut is not None or tag != der.OCTET_STRING or vend != stop:
                return None
            cut = (index, pos, stop, vstart, vend)
    except (der.DERError, IndexError):
        return None
    if cut is None:
        return None
    index, start, stop, vstart, vend = cut
    return (index, data[:start] + data[stop:]), data[vstart:vend]


def _extensions_decode(cert):
    """True once ``cryptography`` has decoded every extension of ``cert``
    (raises what it raises otherwise)."""
    _ = cert.extensions
    return True


def serial(cert: x509.Certificate) -> int:
    """``cert.serial_number`` (decoded into a new ``int`` at each access,
    0.5 us), kept with a certificate of a presented chain
    (:func:`remembered`: the user's comes back at every login)."""
    return remembered(cert, 'serial', _serial)


def _serial(cert):
    return cert.serial_number


def _validity(cert):
    return cert.not_valid_before_utc, cert.not_valid_after_utc


def forget(certs: Sequence[x509.Certificate]) -> None:
    """Drop what :func:`load_chain` remembered about ``certs`` (call it
    when their verification is over)."""
    for cert in certs:
        entry = _der_memo.get(id(cert))
        if entry is not None and entry[0] is cert:
            _der_memo.pop(id(cert), None)


def _entry(cert):
    entry = _der_memo.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry
    return None


def der_of(cert: x509.Certificate) -> bytes:
    """The DER ``cert`` was loaded from (re-encoded by ``cryptography``
    when it is not remembered)."""
    entry = _entry(cert)
    if entry is not None:
        return entry[1]
    return cert.public_bytes(serialization.Encoding.DER)


class Fields(NamedTuple):
    """Slices of a certificate's DER, taken as they were received."""

    #: the signed part (tbsCertificate), header included
    tbs: bytes
    #: the issuer Name, header included (what ``Name.public_bytes()``
    #: gives for a DER certificate, which is all ``cryptography`` loads)
    issuer: bytes
    #: the subject Name, header included
    subject: bytes
    #: the signature AlgorithmIdentifier inside the signed part, and the
    #: one beside it (RFC 5280 4.1.1.2: they must be the same)
    signature_algorithm: bytes
    outer_signature_algorithm: bytes
    #: the tags of notBefore and notAfter (0x17 UTCTime, 0x18
    #: GeneralizedTime)
    validity_tags: Tuple[int, int]
    #: the subjectPublicKeyInfo's AlgorithmIdentifier
    key_algorithm: bytes
    #: the whole subjectPublicKeyInfo
    key_info: bytes
    #: the content of the extensions SEQUENCE (each Extension's DER, in
    #: order); ``b''`` without extensions
    extensions: bytes = b''


def fields_of(blob: bytes) -> Fields:
    """:class:`Fields` of the DER certificate ``blob`` (loaded by
    ``cryptography``, so its framing is valid DER).

    Why by hand: ``Name.public_bytes()`` re-encodes a name from its
    decoded attributes (19 us a name; a verification needs five) and
    ``tbs_certificate_bytes`` re-encodes the signed part (8 us); slicing
    the bytes received costs 4 us for all of it.

    :raises DERError: the framing is not a certificate's.
    """
    _, start, end = der.read(blob, 0, len(blob))
    _, tstart, tend = der.read(blob, start, end)
    pos = tstart
    tag, _, stop = der.read(blob, pos, tend)
    if tag == 0xA0:                                   # [0] version
        pos = stop
        tag, _, stop = der.read(blob, pos, tend)
    algorithm_end = der.read(blob, stop, tend)[2]     # after the serial
    issuer_end = der.read(blob, algorithm_end, tend)[2]
    _, vstart, subject_start = der.read(blob, issuer_end, tend)
    before_tag, _, before_end = der.read(blob, vstart, subject_start)
    after_tag = der.read(blob, before_end, subject_start)[0]
    subject_end = der.read(blob, subject_start, tend)[2]
    _, kstart, key_end = der.read(blob, subject_end, tend)
    key_algorithm_end = der.read(blob, kstart, key_end)[2]
    outer_end = der.read(blob, tend, end)[2]
    extensions = b''
    pos = key_end
    while pos < tend:            # [1], [2] unique IDs, [3] extensions
        tag, cstart, cend = der.read(blob, pos, tend)
        if tag == 0xA3:
            _, xstart, xend = der.read(blob, cstart, cend)
            extensions = blob[xstart:xend]
        pos = cend
    return Fields(blob[start:tend], blob[algorithm_end:issuer_end],
                  blob[subject_start:subject_end], blob[stop:algorithm_end],
                  blob[tend:outer_end], (before_tag, after_tag),
                  blob[kstart:key_algorithm_end], blob[subject_end:key_end],
                  extensions)


def fields(cert: x509.Certificate) -> Optional[Fields]:
    """:class:`Fields` of a certificate of a presented chain (loaded by
    :func:`load_chain` and not yet forgotten), computed once; ``None``
    for any other certificate."""
    # (_entry, inlined: ~20 calls a verification)
    entry = _der_memo.get(id(cert))
    if entry is None or entry[0] is not cert:
        return None
    found = entry[2]
    if found is None:
        try:
            found = entry[2] = fields_of(entry[1])
        except der.DERError:
            return None
    return found


def subject_der(cert: x509.Certificate) -> bytes:
    """The DER of ``cert``'s subject (sliced, see :func:`fields`)."""
    found = fields(cert)
    return found.subject if found is not None else names.name_der(cert.subject)


def issuer_der(cert: x509.Certificate) -> bytes:
    """The DER of ``cert``'s issuer (sliced, see :func:`fields`)."""
    found = fields(cert)
    return found.issuer if found is not None else names.name_der(cert.issuer)


# subjectPublicKeyInfo DER (a certificate of a presented chain) or
# id(certificate) (any other, long-lived: a VOMS server's from the AC
# decoder or the vomsdir; the entry holds it, so its id names no other
# object) -> its public key object. Why: a key object keeps OpenSSL's
# Montgomery context of its RSA modulus once it has verified a signature;
# a fresh one pays 10-20 us (2048 bits) to set it up at its first
# verification, on top of the 26 us of the check itself. The user's
# certificate comes back at every login (a new proxy each time), the VOMS
# server's with every AC.
_KEY_MEMO_SIZE = 1024
_keys = {}


def public_key_of(cert: x509.Certificate):
    """``cert.public_key()``, the same object for the same key (of a
    certificate of a presented chain) or the same certificate object
    while it is remembered."""
    found = fields(cert)
    # (a certificate of a presented chain is not held: it goes with its
    # call, see _der_memo)
    key, held = (found.key_info, None) if found is not None else (
        id(cert), cert)
    entry = _keys.get(key)
    if entry is None or entry[0] is not held:
        entry = (held, cert.public_key())
        if len(_keys) >= _KEY_MEMO_SIZE:
            _keys.clear()
        _keys[key] = entry
    return entry[1]


def subject_dn(cert: x509.Certificate) -> str:
    """The slash form of ``cert``'s subject, remembered by its DER
    (:func:`~voms_auth.voms.names.slash_dn_of_der`)."""
    found = fields(cert)
    if found is None:
        return names.slash_dn(cert.subject)
    return names.slash_dn_of_der(found.subject, lambda: cert.subject)


def issuer_dn(cert: x509.Certificate) -> str:
    """The slash form of ``cert``'s issuer (see :func:`subject_dn`)."""
    found = fields(cert)
    if found is None:
        return names.slash_dn(cert.issuer)
    return names.slash_dn_of_der(found.issuer, lambda: cert.issuer)


def tbs_of(cert: x509.Certificate) -> bytes:
    """The signed part (tbsCertificate) of ``cert``, sliced from its DER
    (``tbs_certificate_bytes`` re-encodes it on every call)."""
    found = fields(cert)
    return found.tbs if found is not None else cert.tbs_certificate_bytes


def checked(cert: x509.Certificate, what: str) -> x509.Certificate:
    """``cert`` after :func:`parse_fully`, within :data:`MAX_DER_BYTES`.

    :raises MalformedCredential: (a subclass, see :func:`decode_error`).
    """
    found = fields(cert)
    size = len(der_of(cert)) if found is not None else len(
        cert.tbs_certificate_bytes) + len(cert.signature)
    if size > MAX_DER_BYTES:
        raise errors.CredentialTooLarge(
            '%s is about %d bytes long; at most %d are accepted'
            % (what, size, MAX_DER_BYTES))
    try:
        return parse_fully(cert)
    except Exception as exc:  # noqa: BLE001 - translated by kind
        raise decode_error(exc, what) from None


def decode_error(exc: BaseException, what: str) -> errors.VomsError:
    """The documented error for ``exc``, raised by ``cryptography`` while
    decoding ``what`` (e.g. ``'certificate 0 of the chain'``)."""
    if isinstance(exc, x509.DuplicateExtension):
        return errors.DuplicateCertificateExtension(
            '%s carries extension %s twice' % (what, exc.oid.dotted_string))
    if isinstance(exc, x509.InvalidVersion):
        return errors.InvalidCertificateVersion(
            '%s states version number %d, which is no X.509 version (v1 to '
            'v3 are 0 to 2)' % (what, exc.parsed_version))
    if isinstance(exc, x509.UnsupportedGeneralNameType):
        return errors.UnsupportedGeneralName(
            '%s has a name type that is not supported (X.400 address or '
            'EDI party name) in an extension' % what)
    if isinstance(exc, TypeError):
        return errors.InvalidNameValue(
            '%s has a field of a type its attribute does not allow: %s'
            % (what, exc))
    if isinstance(exc, (ValueError, UnsupportedAlgorithm)):
        return errors.UndecodableCertificate(
            '%s has a field that cannot be decoded: %s' % (what, exc))
    return errors.UndecodableCertificate(
        '%s cannot be decoded (%s)' % (what, type(exc).__name__))


def parse_fully(cert: x509.Certificate) -> x509.Certificate:
    """Make ``cert`` decode every field verification reads.

    ``cryptography`` decodes names and extensions lazily, so a corrupt
    certificate loads fine and raises later, deep inside a check; this
    raises at once, where it can be reported as malformed input. A name
    known to decode is not decoded again (:func:`_known_to_decode`: the
    user's certificate at every login, a proxy's name made of its
    issuer's and a plain CN), and its slash form is remembered; nor are
    extensions known to decode (:func:`remembered_for_extensions`: those
    of every proxy of a person but the first).

    :raises Exception: whatever ``cryptography`` raises for a field that
        does not decode (see :func:`decode_error`).
    """
    found = fields(cert)
    if found is None:
        _ = (cert.subject.rdns, cert.issuer.rdns)
    else:
        if not names.decoded_before(found.issuer):
            names.slash_dn_of_der(found.issuer, lambda: cert.issuer)
        if not _known_to_decode(cert, found.subject, found.issuer):
            names.slash_dn_of_der(found.subject, lambda: cert.subject)
    # (the extensions of a proxy are decoded once for all proxies that
    # carry the same ones, see remembered_for_extensions)
    remembered_for_extensions(cert, 'extensions decode', _extensions_decode)
    # (the key is decoded, not kept: a proxy's key verifies nothing here;
    # an issuer's is kept by public_key_of when it checks a signature)
    for value in (serial(cert), validity(cert), cert.public_key()):
        del value
    return cert


# A PrintableString's characters (X.680 41.4).
_PRINTABLE = re.compile(rb"[A-Za-z0-9 '()+,\-./:=?]{1,64}")


def _known_to_decode(cert: x509.Certificate, subject: bytes,
                     issuer: bytes) -> bool:
    """Whether ``cert``'s subject name (DER ``subject``) decodes for sure:
    it was decoded before, or it is its issuer name (DER ``issuer``),
    decoded before, plus one
    RDN holding one CN (:func:`added_cn`) whose value is a UTF8String of
    valid UTF-8 or a PrintableString, of 1 to 64 octets (what
    ``cryptography`` decodes without a word, and what every proxy's name
    is: its issuer's plus ``CN=<number>``).

    Why by hand: decoding a proxy's name costs 20 us and giving its slash
    form 17 us more, at every login; this costs 2 us. Anything else is
    decoded by ``cryptography``, which words the errors.
    """
    if names.decoded_before(subject):
        return True
    if not names.decoded_before(issuer):
        return False
    found = extends_issuer_name(cert)
    if found is None:
        return False
    tag, value = found
    if not 1 <= len(value) <= 64:
        return False
    if tag == der.UTF8_STRING:
        try:
            value.decode('utf-8')
        except UnicodeDecodeError:
            return False
        return True
    # (cryptography refuses a bad PrintableString at load already)
    return tag == der.PRINTABLE_STRING and bool(_PRINTABLE.fullmatch(value))


def extends_issuer_name(cert: x509.Certificate
                        ) -> Optional[Tuple[int, bytes]]:
    """:func:`added_cn` of ``cert``'s subject and issuer names (a proxy's
    name is its issuer's plus one CN), computed once per certificate of
    a presented chain; ``None`` for any other certificate (the callers
    then compare the decoded names)."""
    return remembered(cert, 'added cn', _added_cn_of)


def _added_cn_of(cert):
    found = fields(cert)
    return None if found is None else added_cn(found.subject, found.issuer)


def added_cn(subject: bytes, issuer: bytes) -> Optional[Tuple[int, bytes]]:
    """(tag, content) of the CN value when the name DER ``subject`` is
    the name DER ``issuer`` plus one RDN holding one CN attribute (an RFC
    3820 proxy's name), else ``None``. Compared on the bytes, nothing
    decoded; never raises."""
    try:
        _, start, end = der.read(subject, 0, len(subject))
        _, istart, iend = der.read(issuer, 0, len(issuer))
        pos = start + iend - istart
        if subject[start:pos] != issuer[istart:iend]:
            return None
        tag, sstart, send = der.read(subject, pos, end)
        if tag != der.SET or send != end:
            return None
        tag, astart, aend = der.read(subject, sstart, send)
        if tag != der.SEQUENCE or aend != send:
            return None
        tag, ostart, oend = der.read(subject, astart, aend)
        if tag != der.OID or subject[ostart:oend] != b'\x55\x04\x03':
            return None                                 # 2.5.4.3: CN
        tag, vstart, vend = der.read(subject, oend, aend)
        if vend != aend:
            return None
        return tag, subject[vstart:vend]
    except der.DERError:
        return None
