"""Why an access token was refused, or why the OIDC set-up is unusable.

Every :class:`TokenError` is a :class:`~voms_auth.errors.CredentialError`
(CLI exit 1, HTTP 401); messages name the reason and never contain the
token or key material.
"""

from voms_auth import errors

_SHOWN = 80


def shown(value):
    """``repr(value)`` cut to a readable length, for messages quoting what
    a token says (an attacker chooses it; keep messages one short line)."""
    text = repr(value)
    if len(text) > _SHOWN:
        text = text[:_SHOWN - 3] + '...'
    return text


class TokenError(errors.CredentialError):
    """An access token is refused."""


class MalformedToken(TokenError):
    """The token is not a well-formed JWT or lacks a required claim."""


class NotAnAccessToken(TokenError):
    """The token is an OpenID Connect ID token, not an access token."""


class TokenExpired(TokenError):
    """``exp`` is in the past (beyond the leeway)."""


class TokenNotYetValid(TokenError):
    """``nbf`` or ``iat`` is in the future (beyond the leeway)."""


class UntrustedIssuer(TokenError):
    """The token's ``iss`` is not one of the configured issuers."""


class AudienceMismatch(TokenError):
    """The token is not meant for this service (``aud``)."""


class InvalidSignature(TokenError):
    """The JWT signature does not verify (tampered or forged token)."""


class DisallowedAlgorithm(TokenError):
    """The JWT names an algorithm outside the allow-list (``none``, HMAC,
    ...) or one its key is not for."""


class UnknownSigningKey(TokenError):
    """The JWT names a key (``kid``) the issuer does not publish, even after
    fetching its keys again."""


class TokenInactive(TokenError):
    """Introspection says ``active: false`` or userinfo refuses the token."""


class SubjectMismatch(TokenError):
    """Userinfo describes another subject than the token."""


class ProviderUnavailable(TokenError):
    """The identity provider could not be reached (or answered nonsense)
    while the token needed it; the token is refused, never accepted."""

    def __init__(self, message):
        super().__init__('identity provider unavailable: %s' % (message,))


class ProviderBusy(ProviderUnavailable):
    """The identity provider is not asked: too many requests to it are in
    progress, or too many unknown tokens were introspected lately."""


class OIDCConfigurationError(errors.ConfigurationError):
    """The OIDC issuer configuration is unusable (CLI exit 2)."""


class DiscoveryMismatch(OIDCConfigurationError):
    """The provider's discovery document names another issuer, or points to
    endpoints the configuration does not allow."""
