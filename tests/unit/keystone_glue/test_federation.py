"""Which federation requests voms-auth serves, with which credential."""

import datetime

import pytest

from voms_auth.identity import Identity
from voms_auth.keystone import federation

ISSUER_A = 'https://a.example/oidc'
ISSUER_B = 'https://b.example/oidc'


def _routes():
    return federation.FederationRoutes(
        'voms-auth', {'egi.eu': {ISSUER_A}, 'b-idp': {ISSUER_B}},
        {'egi.eu', 'grid-only'})


def _identity(kind, issuer):
    return Identity(kind=kind, issuer=issuer, subject='someone', name='x',
                    memberships=(), expires_at=datetime.datetime.now(
                        datetime.timezone.utc))


@pytest.mark.parametrize('idp,served', [
    ('voms-auth', True), ('egi.eu', True), ('b-idp', True),
    ('grid-only', True), ('other', False), (None, False), (['egi.eu'], False),
])
def test_serves_only_configured_identity_providers(idp, served):
    assert _routes().serves(idp) is served


@pytest.mark.parametrize('idp,protocol,cert,kind', [
    ('egi.eu', 'openid', False, 'oidc'),
    ('egi.eu', 'openid', True, 'oidc'),
    ('egi.eu', 'mapped', True, 'voms'),
    ('egi.eu', 'mapped', False, 'oidc'),   # no certificate: the token
    ('b-idp', 'mapped', True, 'oidc'),     # takes no proxies
    ('grid-only', 'mapped', False, 'voms'),
    ('voms-auth', 'voms', False, 'voms'),
    ('voms-auth', 'oidc', True, 'oidc'),
])
def test_kind_by_protocol_identity_provider_and_certificate(idp, protocol,
                                                            cert, kind):
    assert _routes().kind(idp, protocol, cert) == kind


def test_protocol_carrying_nothing_the_idp_takes_is_refused():
    with pytest.raises(federation.KindNotTaken,
                       match='grid-only takes VOMS proxies, which protocol '
                             'openid does not carry'):
        _routes().kind('grid-only', 'openid', False)
    with pytest.raises(federation.KindNotTaken,
                       match='b-idp takes OIDC access tokens'):
        _routes().kind('b-idp', 'voms', True)


def test_unknown_protocol_is_refused():
    with pytest.raises(federation.UnsupportedProtocol,
                       match='protocol saml2 of identity provider egi.eu'):
        _routes().kind('egi.eu', 'saml2', False)


def test_check_refuses_a_token_of_another_issuer():
    routes = _routes()
    routes.check('egi.eu', _identity('oidc', ISSUER_A))
    routes.check('voms-auth', _identity('oidc', ISSUER_B))  # home: any
    with pytest.raises(federation.WrongIdentityProvider,
                       match='issuer https://b.example/oidc are not '
                             'accepted on identity provider egi.eu '
                             r'\(it takes tokens of https://a.example'):
        routes.check('egi.eu', _identity('oidc', ISSUER_B))


def test_check_refuses_a_proxy_where_none_is_taken():
    routes = _routes()
    routes.check('grid-only', _identity('voms', '/CN=CA'))
    with pytest.raises(federation.WrongIdentityProvider,
                       match='b-idp does not take VOMS proxies'):
        routes.check('b-idp', _identity('voms', '/CN=CA'))
