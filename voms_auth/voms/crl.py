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
