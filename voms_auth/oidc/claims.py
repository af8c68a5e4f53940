"""Verified token claims -> :class:`~voms_auth.identity.Identity`."""

import datetime
import logging
import re

from voms_auth import errors as base_errors
from voms_auth import identity
from voms_auth.oidc import entitlements, errors

LOG = logging.getLogger(__name__)

_UTC = datetime.timezone.utc

#: Introspected ``token_type`` values that are access tokens.
_BEARER_TYPES = ('bearer', 'access_token')


def _values(value):
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _parse_value(claim, value):
    if claim == 'eduperson_entitlement' or value[:4].lower() == 'urn:':
        return entitlements.parse_entitlement(value)
    try:
        if claim == 'wlcg.groups':
            return entitlements.parse_wlcg_group(value)
        return entitlements.parse_plain_group(value)
    except entitlements.InvalidGroupName:
        return None


def memberships_from_claims(claims, groups_claims):
    """Memberships stated by ``groups_claims`` of ``claims``, in order.

    Values that are not group memberships (resource entitlements, malformed
    groups) are skipped: they grant nothing. Repeats are dropped.
    """
    found = {}
    for claim in groups_claims:
        for value in _values(claims.get(claim)):
            membership = _parse_value(claim, value)
            if membership is None:
                LOG.debug('claim %s: skipped a value that is not a group '
                          'membership', claim)
            elif membership not in found:
                found[membership] = None
    return tuple(found)


#: Latest time claim accepted: the end of year 9999, the last instant a
#: ``datetime`` holds. Later values (``1e15``, ``1e20``, infinity) and
#: negative ones are refused as malformed, not turned into overflows.
MAX_TIME = 253402300799

#: Control characters (C0, DEL, C1) and Unicode line/paragraph separators:
#: refused in a subject, escaped in names.
_CONTROL = re.compile('[\x00-\x1f\x7f-\x9f\u2028\u2029]')


def _number(claims, name):
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.MalformedToken('claim %s is not a number' % name)
    if not 0 <= value <= MAX_TIME:  # also NaN: every comparison is False
        raise errors.MalformedToken(
            'claim %s is out of range (%s)' % (name, errors.shown(value)))
    return value


def check_times(claims, now, leeway):
    """Refuse tokens outside their validity window; return ``exp``.

    :raises MalformedToken: no ``exp``, or a time claim is not a number.
    :raises TokenExpired: ``exp`` <= now - leeway.
    :raises TokenNotYetValid: ``nbf`` or ``iat`` > now + leeway.
    """
    exp = _number(claims, 'exp')
    if exp is None:
        raise errors.MalformedToken('token has no expiry (exp)')
    if exp <= now - leeway:
        raise errors.TokenExpired(
            'token expired at %s' % identity.format_time(
                datetime.datetime.fromtimestamp(exp, _UTC)))
    for name in ('nbf', 'iat'):
        when = _number(claims, name)
        if when is not None and when > now + leeway:
            raise errors.TokenNotYetValid(
                'token is not valid before %s (%s)' % (
                    identity.format_time(
                        datetime.datetime.fromtimestamp(when, _UTC)),
                    name))
    return exp


# Claims that only ID tokens carry (OpenID Connect Core 3.1.3.6, 3.3.2.11),
# and the ``typ`` claim Keycloak-based providers (EGI Check-in) put in ID
# tokens. An ID token's audience is a client id: accepting it as an access
# token would let any relying party of that client replay its users' logins.
_ID_TOKEN_ONLY_CLAIMS = ('at_hash', 'c_hash')


def check_access_token(claims):
    """Refuse an ID token presented as an access token."""
    present = [c for c in _ID_TOKEN_ONLY_CLAIMS if c in claims]
    if present or claims.get('typ') == 'ID':
        raise errors.NotAnAccessToken(
            'this is an OpenID Connect ID token (%s), not an access token'
            % (', '.join(present) or 'typ ID'))


def check_audience(claims, audience):
    """Refuse a token whose ``aud`` does not include ``audience``."""
    if audience is None:
        return
    aud = claims.get('aud')
    values = _values(aud)
    if audience not in values:
        raise errors.AudienceMismatch(
            'token is for audience %s, not %r'
            % (', '.join(errors.shown(v) for v in values[:5]) or '(none)',
               audience))


def claims_from_introspection(config, answer, now, leeway, default_ttl):
    """The claims of an ``active`` RFC 7662 answer, checked.

    An answer without ``exp`` (optional in RFC 7662) is trusted for
    ``default_ttl`` seconds.

    :raises TokenInactive: not ``active: true``, or not an access token.
    :raises UntrustedIssuer: the answer names another issuer.
    :raises TokenExpired, TokenNotYetValid, AudienceMismatch: as for JWTs.
    """
    if answer.get('active') is not True:
        raise errors.TokenInactive('the identity provider says the token '
                                   'is not active')
    iss = answer.get('iss')
    if iss is not None and iss != config.issuer:
        raise errors.UntrustedIssuer(
            'introspection at %s names issuer %s'
            % (config.issuer, errors.shown(iss)))
    token_type = answer.get('token_type')
    if (token_type is not None
            and str(token_type).lower() not in _BEARER_TYPES):
        raise errors.TokenInactive(
            'token is a %s, not an access token' % errors.shown(token_type))
    claims = {k: v for k, v in answer.items() if k != 'active'}
    if claims.get('exp') is None:
        claims['exp'] = int(now + default_ttl)
    check_times(claims, now, leeway)
    check_audience(claims, config.audience)
    return claims


def identity_from_claims(config, claims, token_type):
    """The :class:`~voms_auth.identity.Identity` verified ``claims`` state.

    ``claims`` must already be verified (signature or introspection) and
    time-checked; ``claims['exp']`` must be set.

    :raises MalformedToken: no usable ``sub``.
    """
    subject = claims.get('sub')
    if not isinstance(subject, str) or not subject:
        raise errors.MalformedToken('token has no subject (sub)')
    if _CONTROL.search(subject) or len(subject) > 1024:
        raise errors.MalformedToken(
            'token subject (sub) %s has control characters or is longer '
            'than 1024 characters' % errors.shown(subject))
    name = subject
    for claim in config.name_claims:
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            name = value.strip()
            break
    if _CONTROL.search(name):
        name = base_errors.printable(name)
    used = {c: claims[c] for c in config.groups_claims if c in claims}
    attributes = {'token_type': token_type, 'claims': used}
    for claim in ('client_id', 'azp', 'scope', 'jti'):
        if isinstance(claims.get(claim), str):
            attributes[claim] = base_errors.printable(claims[claim])
    if config.name:
        attributes['issuer_name'] = config.name
    return identity.Identity(
        kind=identity.KIND_OIDC,
        issuer=config.issuer,
        subject=subject,
        name=name,
        memberships=memberships_from_claims(claims, config.groups_claims),
        expires_at=datetime.datetime.fromtimestamp(claims['exp'], _UTC),
        attributes=attributes,
    )
