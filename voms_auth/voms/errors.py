"""Errors raised by VOMS proxy verification.

Every refusal of a credential is a :class:`VomsError` (a
:class:`~voms_auth.errors.CredentialError`: CLI exit 1, HTTP 401) named for
what went wrong; unusable trust material is a :class:`TrustStoreError` (a
:class:`~voms_auth.errors.ConfigurationError`: CLI exit 2). Messages are
written for a site admin and never contain key material.
"""

from voms_auth import errors


class VomsError(errors.CredentialError):
    """A VOMS proxy credential is refused."""


# -- input ------------------------------------------------------------------

class MalformedCredential(VomsError):
    """The input is not a PEM certificate chain that can be parsed."""


class CredentialTooLarge(MalformedCredential):
    """The input exceeds a size limit (PEM bytes, certificates in the
    chain, DER bytes of one certificate)."""


class UndecodableCertificate(MalformedCredential):
    """A certificate loads, but one of its fields does not decode."""


class DuplicateCertificateExtension(UndecodableCertificate):
    """A certificate carries the same extension twice (RFC 5280 forbids
    it)."""


class InvalidCertificateVersion(UndecodableCertificate):
    """A certificate states an X.509 version other than v1, v2, v3."""


class UnsupportedGeneralName(UndecodableCertificate):
    """A certificate extension holds an X.400 address or EDI party name."""


class InvalidNameValue(UndecodableCertificate):
    """A name attribute has a string type its attribute does not allow
    (e.g. a CN as BIT STRING)."""


class UnprocessableCredential(MalformedCredential):
    """The credential made verification fail in an unforeseen way (a
    library raised what it does not document); refused, never accepted.
    Seen only when a new kind of malformed input appears: the fuzz tests
    treat it as a failure."""


# -- the X.509 chain --------------------------------------------------------

class ChainError(VomsError):
    """The certificate chain (proxies, user certificate, CAs) is refused."""


class UntrustedCA(ChainError):
    """The user's certificate does not chain to a CA in the trust dir."""


class NamespaceViolation(ChainError):
    """A certificate's subject is outside the namespace its CA may issue
    (IGTF ``.namespaces`` / ``.signing_policy``), or the CA's policy file
    cannot be used."""


class CertificateInvalid(ChainError):
    """A CA-issued certificate of the chain fails X.509 path validation."""


class CertificateExpired(ChainError):
    """A certificate of the chain is past its notAfter."""


class CertificateNotYetValid(ChainError):
    """A certificate of the chain is not valid yet (its notBefore is in
    the future)."""


class CertificateRevoked(ChainError):
    """A certificate of the chain is listed in its issuer's CRL."""


class CRLError(ChainError):
    """Revocation status cannot be established."""


class CRLMissing(CRLError):
    """A CA of the chain has no CRL in the trust dir."""


class CRLExpired(CRLError):
    """The CRL of a CA of the chain is past its nextUpdate."""


class ProxyError(ChainError):
    """A proxy certificate breaks RFC 3820."""


class ProxyExpired(ProxyError, CertificateExpired):
    """A proxy certificate is outside its validity period."""


class ProxyNotYetValid(ProxyError, CertificateNotYetValid):
    """A proxy certificate's validity has not started."""


class ProxyViolation(ProxyError):
    """A proxy certificate breaks the RFC 3820 rules (name, signature,
    path length, extensions)."""


class LegacyProxy(ProxyError):
    """A pre-RFC (Globus GT2 or GT3 draft) proxy: not accepted."""


class MissingEEC(ChainError):
    """The chain holds proxies but not the user's own certificate."""


class NotAProxy(ChainError):
    """The first certificate is not a proxy certificate."""


# -- the attribute certificate ----------------------------------------------

class ACError(VomsError):
    """The VOMS attribute certificate is refused."""


class NoVomsExtension(ACError):
    """No proxy of the chain carries a VOMS attribute certificate."""


class MalformedAC(ACError):
    """The VOMS attribute certificate cannot be decoded."""


class ACSignatureInvalid(ACError):
    """The AC signature does not verify with the VOMS server's key."""


class ACServerNotTrusted(ACError):
    """The VOMS server certificate is not trusted for the AC's VO (no LSC
    file or certificate in vomsdir lists it, or it fails to chain)."""


class UnknownVO(ACError):
    """The AC names a VO that has no directory in vomsdir."""


class ACExpired(ACError):
    """The AC's validity period has ended."""


class ACNotYetValid(ACError):
    """The AC's validity period has not started."""


class ACHolderMismatch(ACError):
    """The AC was issued to another certificate than the user's."""


class ACTargetMismatch(ACError):
    """The AC is targeted at other services than this one."""


class ACUnknownCriticalExtension(ACError):
    """The AC has a critical extension this verifier does not know."""


# -- configuration ----------------------------------------------------------

class TrustStoreError(errors.ConfigurationError):
    """The CA directory or vomsdir is missing or unreadable."""
