"""Identities for mapping tests, built the way the verifiers build them:
memberships come from the real FQAN and entitlement parsers."""

import datetime

from voms_auth import identity
from voms_auth.oidc import entitlements
from voms_auth.voms import fqan

CA = '/DC=org/DC=example/CN=Example CA'
CHECKIN = 'https://aai.egi.eu/auth/realms/egi'
OTHER_OP = 'https://op.example.org'


def _expiry():
    return (datetime.datetime.now(datetime.timezone.utc)
            + datetime.timedelta(hours=1))


def proxy(*fqans, issuer=CA):
    """A VOMS identity with these FQANs, in credential order."""
    return identity.Identity(
        kind=identity.KIND_VOMS, issuer=issuer,
        subject='/DC=org/DC=example/CN=Jane Doe', name='Jane Doe',
        memberships=[fqan.parse_fqan(f) for f in fqans],
        expires_at=_expiry())


def token(*values, issuer=CHECKIN):
    """An OIDC identity: entitlements (``urn:``) or WLCG groups (``/``)."""
    memberships = []
    for value in values:
        if value.startswith('urn:'):
            parsed = entitlements.parse_entitlement(value)
            assert parsed is not None, value
        else:
            parsed = entitlements.parse_wlcg_group(value)
        memberships.append(parsed)
    return identity.Identity(
        kind=identity.KIND_OIDC, issuer=issuer, subject='jane@example',
        name='Jane Doe', memberships=memberships, expires_at=_expiry())


def grants(result):
    """``{project: (domain, roles, create)}`` of a mapping result."""
    return {g.project: (g.domain, g.roles, g.create) for g in result.grants}
