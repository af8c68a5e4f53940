"""One trusted token issuer: :class:`IssuerConfig`."""

import dataclasses
import ipaddress
import urllib.parse
from typing import Optional, Tuple

from voms_auth.oidc import errors

#: JWS algorithms a token may be signed with. Never ``none``, never HMAC:
#: an HMAC "key" would be the provider's *public* key, which anyone has.
ALLOWED_ALGORITHMS = ('RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
                      'ES256', 'ES384', 'EdDSA')

#: Claims carrying memberships unless an issuer says otherwise.
DEFAULT_GROUPS_CLAIMS = ('eduperson_entitlement', 'wlcg.groups')

#: Claims tried, in order, for a readable name.
DEFAULT_NAME_CLAIMS = ('preferred_username', 'name', 'email')

#: ``token_type`` values: verify JWTs locally and introspect the rest;
#: JWTs only; introspection only.
AUTO, JWT, OPAQUE = 'auto', 'jwt', 'opaque'
TOKEN_TYPES = (AUTO, JWT, OPAQUE)


def is_loopback(host):
    """True for ``localhost`` and loopback addresses (test providers)."""
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint_url(url, what):
    """Refuse URLs that are not ``https`` (plain ``http`` only on loopback).

    :raises OIDCConfigurationError: naming ``what`` and the URL.
    """
    if not isinstance(url, str) or not url:
        raise errors.OIDCConfigurationError('%s is missing' % what)
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        raise errors.OIDCConfigurationError(
            '%s %s is not a URL' % (what, errors.shown(url))) from None
    if parts.scheme == 'https' and parts.hostname:
        return
    if parts.scheme == 'http' and parts.hostname and is_loopback(
            parts.hostname):
        return
    raise errors.OIDCConfigurationError(
        '%s %s must be an https URL (plain http only on loopback)'
        % (what, errors.shown(url)))


def _as_tuple(value):
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(',') if v.strip())
    return tuple(value)


@dataclasses.dataclass(frozen=True)
class IssuerConfig:
    """A trusted issuer and how to read its tokens.

    ``issuer`` is compared exactly with ``iss`` and with the discovery
    document. ``audience`` must be one of the token's ``aud`` values
    (introspected tokens without ``aud`` are refused); it is required
    unless ``accept_any_audience`` says explicitly that tokens issued to
    any client of the provider are accepted. The endpoints the discovery
    document names (keys, introspection, userinfo) must be https URLs on
    the issuer's host (plain http on loopback only) or on one of
    ``allowed_endpoint_hosts``.
    ``groups_claims`` lists the claims holding memberships:
    ``eduperson_entitlement`` (AARC-G002/G069), ``wlcg.groups``, or any
    other claim (values starting with ``urn:`` are read as entitlements,
    others as plain ``vo/group`` paths). ``token_type``: ``jwt`` (verify
    locally only), ``opaque`` (always RFC 7662 introspection), ``auto``
    (JWTs locally, other tokens by introspection). Introspection needs
    ``client_id`` and ``client_secret``. ``use_userinfo`` asks the userinfo
    endpoint for claims the token lacks.

    :raises OIDCConfigurationError: for unusable values.
    """

    issuer: str
    audience: Optional[str] = None
    groups_claims: Tuple[str, ...] = DEFAULT_GROUPS_CLAIMS
    client_id: Optional[str] = None
    client_secret: Optional[str] = dataclasses.field(default=None,
                                                     repr=False)
    use_userinfo: bool = False
    token_type: str = AUTO
    name_claims: Tuple[str, ...] = DEFAULT_NAME_CLAIMS
    algorithms: Tuple[str, ...] = ALLOWED_ALGORITHMS
    ca_file: Optional[str] = None
    name: str = ''
    accept_any_audience: bool = False
    allowed_endpoint_hosts: Tuple[str, ...] = ()

    def __post_init__(self):
        for field in ('groups_claims', 'name_claims', 'algorithms',
                      'allowed_endpoint_hosts'):
            object.__setattr__(self, field,
                               _as_tuple(getattr(self, field)))
        label = self.name or self.issuer
        check_endpoint_url(self.issuer, 'issuer of %s' % (label,))
        parts = urllib.parse.urlsplit(self.issuer)
        if parts.query or parts.fragment:
            raise errors.OIDCConfigurationError(
                'issuer %r must not have a query or fragment' % self.issuer)
        if self.token_type not in TOKEN_TYPES:
            raise errors.OIDCConfigurationError(
                'issuer %s: token_type %r is not one of %s'
                % (label, self.token_type, ', '.join(TOKEN_TYPES)))
        bad = sorted(set(self.algorithms) - set(ALLOWED_ALGORITHMS))
        if bad or not self.algorithms:
            raise errors.OIDCConfigurationError(
                'issuer %s: algorithms must be a non-empty subset of %s '
                '(refused: %s)' % (label, ', '.join(ALLOWED_ALGORITHMS),
                                   ', '.join(bad) or 'empty list'))
        if self.token_type == OPAQUE and not self.can_introspect:
            raise errors.OIDCConfigurationError(
                'issuer %s: token_type opaque needs client_id and '
                'client_secret for introspection' % (label,))
        if bool(self.client_id) != bool(self.client_secret):
            raise errors.OIDCConfigurationError(
                'issuer %s: client_id and client_secret go together'
                % (label,))
        if self.audience == '':
            object.__setattr__(self, 'audience', None)
        if self.audience is None and not self.accept_any_audience:
            raise errors.OIDCConfigurationError(
                'issuer %s: audience is not set; set it to the audience '
                'the provider puts in tokens for this service, or set '
                'accept_any_audience to accept tokens issued to any of its '
                'clients' % (label,))
        object.__setattr__(self, 'allowed_endpoint_hosts', tuple(
            h.lower() for h in self.allowed_endpoint_hosts))

    def check_endpoint(self, url, what):
        """Refuse an endpoint URL from discovery that is not https on the
        issuer's host or an allowed one (plain http only on loopback).

        :raises OIDCConfigurationError: naming ``what`` and the URL.
        """
        check_endpoint_url(url, what)
        host = urllib.parse.urlsplit(url).hostname
        own = urllib.parse.urlsplit(self.issuer).hostname
        if host != own and host not in self.allowed_endpoint_hosts:
            raise errors.OIDCConfigurationError(
                '%s %s is not on the issuer\'s host %s (allow other hosts '
                'with allowed_endpoint_hosts)'
                % (what, errors.shown(url), own))

    @property
    def can_introspect(self):
        return bool(self.client_id and self.client_secret)
