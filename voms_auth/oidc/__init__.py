"""OIDC access-token validation (JWT, introspection, userinfo) and claim
parsing into memberships. Imports nothing from Keystone.

Public API: :class:`IssuerConfig`, :class:`TokenValidator`, the errors in
:mod:`voms_auth.oidc.errors` and :mod:`voms_auth.oidc.entitlements`. The
options and the builder from a ``ConfigOpts`` are in :mod:`voms_auth.conf`;
this package imports no oslo.config.
"""

from voms_auth.oidc.errors import (
    AudienceMismatch,
    DisallowedAlgorithm,
    DiscoveryMismatch,
    InvalidSignature,
    MalformedToken,
    NotAnAccessToken,
    OIDCConfigurationError,
    ProviderBusy,
    ProviderUnavailable,
    SubjectMismatch,
    TokenError,
    TokenExpired,
    TokenInactive,
    TokenNotYetValid,
    UnknownSigningKey,
    UntrustedIssuer,
)
from voms_auth.oidc.issuer import ALLOWED_ALGORITHMS, IssuerConfig
from voms_auth.oidc.validator import TokenValidator

__all__ = [
    'ALLOWED_ALGORITHMS', 'AudienceMismatch', 'DisallowedAlgorithm',
    'DiscoveryMismatch', 'InvalidSignature', 'IssuerConfig', 'MalformedToken',
    'NotAnAccessToken', 'OIDCConfigurationError', 'ProviderBusy',
    'ProviderUnavailable',
    'SubjectMismatch', 'TokenError', 'TokenExpired', 'TokenInactive',
    'TokenNotYetValid', 'TokenValidator', 'UnknownSigningKey',
    'UntrustedIssuer',
]
