"""VOMS proxy verification (RFC 3820 proxy chain, CRLs, RFC 5755 AC).

Imports nothing from Keystone. Typical use::

    store = TrustStore('/etc/grid-security/certificates',
                       '/etc/grid-security/vomsdir')
    verifier = Verifier(store, service_host='keystone.example.org')
    credential = verifier.verify_chain([proxy_pem, eec_pem])
    identity = credential.identity()
"""

from voms_auth.voms.credential import VomsCredential
from voms_auth.voms.errors import (  # noqa: F401 - re-exported
    ACError,
    ACExpired,
    ACHolderMismatch,
    ACNotYetValid,
    ACServerNotTrusted,
    ACSignatureInvalid,
    ACTargetMismatch,
    ACUnknownCriticalExtension,
    CertificateExpired,
    CertificateInvalid,
    CertificateNotYetValid,
    CertificateRevoked,
    ChainError,
    CredentialTooLarge,
    CRLError,
    CRLExpired,
    CRLMissing,
    DuplicateCertificateExtension,
    InvalidCertificateVersion,
    InvalidNameValue,
    LegacyProxy,
    MalformedAC,
    MalformedCredential,
    MissingEEC,
    NamespaceViolation,
    NotAProxy,
    NoVomsExtension,
    ProxyError,
    ProxyExpired,
    ProxyNotYetValid,
    ProxyViolation,
    TrustStoreError,
    UndecodableCertificate,
    UnknownVO,
    UnprocessableCredential,
    UnsupportedGeneralName,
    UntrustedCA,
    VomsError,
)
from voms_auth.voms.truststore import TrustStore
from voms_auth.voms.verifier import Verifier

__all__ = ['TrustStore', 'Verifier', 'VomsCredential', 'VomsError',
           'TrustStoreError']
