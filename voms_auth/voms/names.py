"""Distinguished names in the grid's one-line slash form.

``/DC=org/DC=example/CN=Jane Doe``: RDNs in certificate (DER) order, each
``/<short name>=<value>``, multi-valued RDNs joined with ``+``; the form
OpenSSL's ``X509_NAME_oneline`` prints and LSC files, grid-mapfiles and
VOMS use.
"""

import functools

from cryptography import x509
from cryptography.x509.oid import NameOID

from voms_auth.voms import der

# OpenSSL short names where they differ from RFC 4514's.
_SHORT_NAMES = {
    NameOID.EMAIL_ADDRESS: 'emailAddress',
    NameOID.USER_ID: 'UID',
    NameOID.SERIAL_NUMBER: 'serialNumber',
    NameOID.GIVEN_NAME: 'GN',
    NameOID.SURNAME: 'SN',
    NameOID.TITLE: 'title',
    NameOID.DN_QUALIFIER: 'dnQualifier',
    NameOID.PSEUDONYM: 'pseudonym',
    NameOID.GENERATION_QUALIFIER: 'generationQualifier',
    NameOID.INITIALS: 'initials',
    NameOID.POSTAL_CODE: 'postalCode',
    NameOID.STREET_ADDRESS: 'street',
}


def _attribute(attr: x509.NameAttribute) -> str:
    key = _SHORT_NAMES.get(attr.oid) or attr.rfc4514_attribute_name
    value = attr.value
    if isinstance(value, bytes):
        value = value.decode('latin-1')
    return '%s=%s' % (key, value)


@functools.lru_cache(maxsize=4096)
def slash_dn(name: x509.Name) -> str:
    """The slash form of ``name`` (empty name: ``/``); memoized, as the
    same CA and server names come back in every verification."""
    parts = ['+'.join(_attribute(a) for a in rdn) for rdn in name.rdns]
    return '/' + '/'.join(parts)


class LazyDN:
    """A name shown in slash form only when a message is formatted
    (``'%s' % LazyDN(cert.subject)``): checks that pass pay nothing."""

    __slots__ = ('name',)

    def __init__(self, name: x509.Name):
        self.name = name

    def __str__(self):
        return slash_dn(self.name)


class LazySubject:
    """The subject of a certificate, decoded and shown in slash form only
    when a message is formatted."""

    __slots__ = ('cert',)

    def __init__(self, cert: x509.Certificate):
        self.cert = cert

    def __str__(self):
        return slash_dn(self.cert.subject)


def normalize_dn(text: str) -> str:
    """Canonical spelling of a slash-form DN read from a file, for
    comparisons: surrounding blanks dropped, ``Email=``/``E=`` spelled
    ``emailAddress=``, ``USERID=`` spelled ``UID=``."""
    text = text.strip()
    for old, new in (('/Email=', '/emailAddress='), ('/E=', '/emailAddress='),
                     ('/USERID=', '/UID=')):
        text = text.replace(old, new)
    return text



@functools.lru_cache(maxsize=4096)
def raw_names(cert: x509.Certificate):
    """``(issuer, subject)`` of ``cert`` as the exact DER it carries, for
    comparisons and index lookups without decoding or re-encoding the
    names (``Name.public_bytes()`` re-encodes on every call). Memoized by
    certificate (its hash and equality are those of its DER).

    :raises ValueError: the certificate's names cannot be located (it
        would not have loaded).
    """
    return der.name_fields(cert.tbs_certificate_bytes)
