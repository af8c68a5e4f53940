"""Distinguished names in the grid's one-line slash form.

``/DC=org/DC=example/CN=Jane Doe``: RDNs in certificate (DER) order, each
``/<short name>=<value>``, multi-valued RDNs joined with ``+``; the form
OpenSSL's ``X509_NAME_oneline`` prints and LSC files, grid-mapfiles and
VOMS use.
"""

import weakref

from cryptography import x509
from cryptography.x509.oid import NameOID

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


#: Most names remembered by :func:`name_der` / :func:`slash_dn`.
_MEMO_SIZE = 4096
# id(Name) -> [weak reference to the Name, its DER, its slash form or None].
# ``cryptography`` hands out the same Name object for every access to a
# certificate's subject or issuer, so names of long-lived certificates (CAs,
# VOMS servers) are encoded once per process, those of a presented chain
# once per call. The entry holds the Name WEAKLY and is dropped when the
# Name dies (with its certificate, at the end of the call for a presented
# chain): a verification leaves nothing behind here. Objects kept past the
# call would pile up as survivors of the cyclic garbage collector, whose
# full collections (tens of ms, the whole heap) then ran inside requests.
# The weak reference's callback runs while the Name is being freed, before
# its id can be reused, so a hit is the very same (immutable) Name.
_memo = {}
_slash_by_der = {}


class _NameRef(weakref.ref):
    """A weak reference to a Name that knows its :data:`_memo` key."""

    __slots__ = ('key',)


def _forget(ref):
    """Weak reference callback: drop the entry of a Name being freed."""
    entry = _memo.get(ref.key)
    if entry is not None and entry[0] is ref:
        _memo.pop(ref.key, None)


def _entry(name: x509.Name):
    entry = _memo.get(id(name))
    if entry is None or entry[0]() is not name:
        if len(_memo) >= _MEMO_SIZE:
            _memo.clear()
        ref = _NameRef(name, _forget)
        ref.key = id(name)
        entry = _memo[id(name)] = [ref, name.public_bytes(), None]
    return entry


def name_der(name: x509.Name) -> bytes:
    """The DER of ``name`` (``Name.public_bytes()``: names are indexed and
    compared in that encoding), remembered for the name object."""
    return _entry(name)[1]


def slash_dn(name: x509.Name) -> str:
    """The slash form of ``name`` (empty name: ``/``); memoized, as the
    same CA and server names come back in every verification."""
    entry = _entry(name)
    text = entry[2]
    if text is None:
        text = entry[2] = slash_dn_of_der(entry[1], name)
    return text


def slash_dn_of_der(der: bytes, name) -> str:
    """The slash form of the name whose DER is ``der``: remembered by those
    bytes, else computed from ``name`` (the decoded Name, or a function
    returning it, called only then) and remembered. A returning user's
    names are thus decoded once per process, not once per verification
    (15 us a name)."""
    text = _slash_by_der.get(der)
    if text is None:
        if callable(name):
            name = name()
        parts = ['+'.join(_attribute(a) for a in rdn) for rdn in name.rdns]
        text = '/' + '/'.join(parts)
        if len(_slash_by_der) >= _MEMO_SIZE:
            _slash_by_der.clear()
        _slash_by_der[der] = text
    return text


def decoded_before(der: bytes) -> bool:
    """Whether the name with DER ``der`` was decoded before (its slash
    form is remembered): the same bytes decode the same way again."""
    return der in _slash_by_der


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
