"""Which CRLs count as a CA's complete revocation list, as OpenSSL decides.

A CA directory may hold several CRLs of one CA (``<hash>.r0``,
``<hash>.r1``, ...). Only a **complete** CRL tells whether a certificate is
revoked: a delta CRL (deltaCRLIndicator), an indirect CRL or one limited to
some reasons or to attribute certificates (issuingDistributionPoint), or a
CRL with a critical extension OpenSSL does not handle is never taken as
the CA's list (:func:`unusable_reason`). A complete CRL may still be
limited to CA or to user certificates, or to one distribution point:
:func:`covers` says whether it speaks for a given certificate. The
verifier refuses a certificate revoked in **any** complete CRL that covers
it and is already in force (:func:`in_force`).
"""

import array
import datetime
from typing import Optional

from cryptography import x509
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

#: CRL extensions OpenSSL handles when critical (crl_cb in x_crl.c).
_HANDLED_CRITICAL = frozenset((
    ExtensionOID.ISSUING_DISTRIBUTION_POINT,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.DELTA_CRL_INDICATOR))
#: CRL entry extensions OpenSSL handles when critical (crl_set_issuers).
_HANDLED_CRITICAL_ENTRY = frozenset((CRLEntryExtensionOID.CERTIFICATE_ISSUER,))


def unusable_reason(crl: x509.CertificateRevocationList, *,
                    entries: bool = True) -> Optional[str]:
    """Why ``crl`` is not a complete CRL of its issuer, or ``None``.

    :param entries: whether to check its entries too (see
        :func:`entry_reason`; ``False`` when the caller checks them in
        its own walk over the entries).

    Pure; never raises (a CRL whose extensions do not decode is
    unusable).
    """
    try:
        return _reason(crl, entries)
    except Exception as exc:  # noqa: BLE001 - undecodable: not usable
        return 'its extensions cannot be decoded (%s)' % type(exc).__name__


def entry_reason(revoked: x509.RevokedCertificate) -> Optional[str]:
    """Why an entry makes its CRL unusable (an unknown critical
    extension), or ``None``.

    :raises Exception: whatever decoding its extensions raises.
    """
    for ext in revoked.extensions:
        if ext.critical and ext.oid not in _HANDLED_CRITICAL_ENTRY:
            return ('an entry has an unknown critical extension %s'
                    % ext.oid.dotted_string)
    return None


def _reason(crl, entries=True):
    idp = None
    for ext in crl.extensions:
        if ext.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            return 'it is a delta CRL'
        if ext.critical and ext.oid not in _HANDLED_CRITICAL:
            return 'it has an unknown critical extension %s' % (
                ext.oid.dotted_string)
        if ext.oid == ExtensionOID.ISSUING_DISTRIBUTION_POINT:
            idp = ext.value
    if idp is not None:
        if idp.indirect_crl:
            return 'it is an indirect CRL'
        if idp.only_some_reasons:
            return 'it covers only some revocation reasons'
        if idp.only_contains_attribute_certs:
            return 'it covers only attribute certificates'
    if entries:
        for revoked in crl:
            reason = entry_reason(revoked)
            if reason:
                return reason
    return None


def covers(crl: x509.CertificateRevocationList,
           cert: x509.Certificate) -> bool:
    """Whether the complete ``crl`` speaks for ``cert``: its
    issuingDistributionPoint (if any) does not limit it to the other kind
    of certificate (CA / user) nor to a distribution point ``cert`` does
    not name. Never raises (an undecodable extension: not covered)."""
    try:
        idp = crl.extensions.get_extension_for_class(
            x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return True
    except Exception:  # noqa: BLE001 - undecodable: covers nothing
        return False
    is_ca = _is_ca(cert)
    if idp.only_contains_ca_certs and not is_ca:
        return False
    if idp.only_contains_user_certs and is_ca:
        return False
    if idp.full_name is None and idp.relative_name is None:
        return True
    return _names_point(cert, idp)


def in_force(crl: x509.CertificateRevocationList, at: datetime.datetime,
             skew: datetime.timedelta) -> bool:
    """Whether ``crl`` was issued by ``at`` (thisUpdate not later than
    ``at`` + ``skew``): a future-dated CRL is not used yet."""
    return crl.last_update_utc <= at + skew


def _is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(
            x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _names_point(cert, idp):
    """Whether one of ``cert``'s CRL distribution points is the one the
    CRL's issuingDistributionPoint names."""
    try:
        points = cert.extensions.get_extension_for_class(
            x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return False
    for point in points:
        if idp.full_name is not None and point.full_name is not None and \
                set(idp.full_name) & set(point.full_name):
            return True
        if idp.relative_name is not None and \
                point.relative_name == idp.relative_name:
            return True
    return False


class RevokedSerials:
    """The revoked serial numbers of one CRL, for O(1) membership tests
    in little memory: an open-addressing hash table (linear probing, at
    most three quarters full) of each serial's low 64 bits in an
    ``array('Q')``.

    A match says the serial is *probably* listed: two serials may share
    their low 64 bits, so the caller confirms a match on the CRL itself
    (:meth:`TrustSnapshot.revocation_date`), which happens only for a
    revoked certificate.

    Why by hand: a ``dict`` of serial -> revocation date cost 130 bytes an
    entry (an int, a datetime and the slot), 196 MiB in every Keystone
    process for the 1.5 million entries of 151 IGTF-size CRLs; this costs
    11 to 22 bytes an entry and no Python object per entry, so freeing it
    is one ``free``. Neither ``set`` nor ``frozenset`` of ints is smaller
    than 60 bytes an entry. A serial it does not hold costs 2 to 9 probes
    (under 1 us).
    """

    __slots__ = ('_table', '_mask', '_shift', '_zero', '_count')

    #: Fibonacci hashing: spreads sequential serials (most CAs issue them
    #: in order) over the table, so probing runs stay short.
    _MULTIPLIER = 0x9E3779B97F4A7C15
    _LOW = (1 << 64) - 1

    def __init__(self, serials=()):
        serials = list(serials)
        bits = max(4, (len(serials) * 4 // 3).bit_length())
        self._table = array.array('Q', bytes(8 << bits))
        self._mask = (1 << bits) - 1
        self._shift = 64 - bits
        self._zero = False
        self._count = 0
        for serial in serials:
            self._add(serial)

    def _slot(self, low):
        return ((low * self._MULTIPLIER) & self._LOW) >> self._shift

    def _add(self, serial):
        low = serial & self._LOW
        if low == 0:                       # 0 marks an empty slot
            self._count += not self._zero
            self._zero = True
            return
        table, mask = self._table, self._mask
        slot = self._slot(low)
        while table[slot]:
            if table[slot] == low:
                return
            slot = (slot + 1) & mask
        table[slot] = low
        self._count += 1

    def __contains__(self, serial):
        low = serial & self._LOW
        if low == 0:
            return self._zero
        table, mask = self._table, self._mask
        slot = self._slot(low)
        while True:
            found = table[slot]
            if found == low:
                return True
            if not found:
                return False
            slot = (slot + 1) & mask

    def __len__(self):
        """Distinct low-64-bit values held (the entry count, unless two
        listed serials share their low 64 bits or one is listed twice)."""
        return self._count

    @property
    def nbytes(self) -> int:
        """Bytes of the table."""
        return len(self._table) * self._table.itemsize
