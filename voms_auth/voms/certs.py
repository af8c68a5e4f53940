"""Loading certificates so that corrupt ones fail early, with a reason.

``cryptography`` decodes names and extensions lazily and raises, for
hostile input, more than ``ValueError`` (``DuplicateExtension``,
``InvalidVersion``, ``UnsupportedGeneralNameType``, ``TypeError``, ...).
Everything here turns those into the documented
:class:`~voms_auth.voms.errors.MalformedCredential` subclasses, and bounds
the size of what is decoded.
"""

import binascii
from typing import List, Sequence, Union

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from voms_auth.voms import der, errors

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
    decoded (:func:`parse_fully`).

    :raises MalformedCredential: (a subclass) for a text that is not a PEM
        certificate, a certificate that does not decode, or more than
        :data:`MAX_CERTIFICATES` / :data:`MAX_DER_BYTES`.
    """
    certs = []
    for index, pem in enumerate(pems):
        found = _load_canonical(pem)
        try:
            found = found or x509.load_pem_x509_certificates(pem)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise errors.MalformedCredential(
                'certificate %d of the chain is not a valid PEM certificate '
                '(truncated or corrupt: %s)' % (index, exc)) from None
        except Exception as exc:  # noqa: BLE001 - translated by kind
            raise decode_error(exc, 'certificate %d of the chain'
                               % index) from None
        certs.extend(found)
        if len(certs) > MAX_CERTIFICATES:
            raise errors.CredentialTooLarge(
                'the chain holds more than %d certificates'
                % MAX_CERTIFICATES)
    for index, cert in enumerate(certs):
        checked(cert, 'certificate %d of the chain' % index)
    return certs


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
    body = pem[len(_PEM_HEAD):end].replace(b'\r', b'').replace(b'\n', b'')
    try:
        blob = binascii.a2b_base64(body, strict_mode=True)
    except binascii.Error:
        return None
    if not blob or binascii.b2a_base64(blob, newline=False) != body:
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
    _remember_der(cert, blob)
    return [cert]


# id(certificate) -> (certificate, its DER) for certificates of a presented
# chain; the entry holds the certificate, so its id names no other object.
# The verifier drops its chain's entries when the call ends (:func:`forget`):
# a certificate kept past its call keeps its decoded names and extensions
# (~45 objects the cyclic garbage collector tracks), and such survivors
# made the collector's full passes over the heap (tens of ms) run inside
# requests. The size bound is for callers that never call :func:`forget`.
_DER_MEMO_SIZE = 256
_der_memo = {}


def _remember_der(cert, blob):
    if len(_der_memo) >= _DER_MEMO_SIZE:
        _der_memo.clear()
    _der_memo[id(cert)] = (cert, blob)


def forget(certs: Sequence[x509.Certificate]) -> None:
    """Drop what :func:`load_chain` remembered about ``certs`` (call it
    when their verification is over)."""
    for cert in certs:
        entry = _der_memo.get(id(cert))
        if entry is not None and entry[0] is cert:
            _der_memo.pop(id(cert), None)


def der_of(cert: x509.Certificate) -> bytes:
    """The DER ``cert`` was loaded from (re-encoded by ``cryptography``
    when it is not remembered)."""
    entry = _der_memo.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    return cert.public_bytes(serialization.Encoding.DER)


def tbs_of(cert: x509.Certificate) -> bytes:
    """The signed part (tbsCertificate) of ``cert``, sliced from its DER
    (``tbs_certificate_bytes`` re-encodes it on every call)."""
    entry = _der_memo.get(id(cert))
    if entry is not None and entry[0] is cert:
        blob = entry[1]
        try:
            _, start, end = der.read(blob, 0, len(blob))
            _, _, stop = der.read(blob, start, end)
            return blob[start:stop]
        except der.DERError:
            pass
    return cert.tbs_certificate_bytes


def checked(cert: x509.Certificate, what: str) -> x509.Certificate:
    """``cert`` after :func:`parse_fully`, within :data:`MAX_DER_BYTES`.

    :raises MalformedCredential: (a subclass, see :func:`decode_error`).
    """
    size = len(cert.tbs_certificate_bytes) + len(cert.signature)
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
    raises at once, where it can be reported as malformed input.

    :raises Exception: whatever ``cryptography`` raises for a field that
        does not decode (see :func:`decode_error`).
    """
    for value in (cert.subject.rdns, cert.issuer.rdns, cert.extensions,
                  cert.serial_number, cert.not_valid_before_utc,
                  cert.not_valid_after_utc, cert.public_key()):
        del value
    return cert
