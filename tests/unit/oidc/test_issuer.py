"""IssuerConfig refuses unusable settings."""

import pytest

from voms_auth.oidc import errors
from voms_auth.oidc.issuer import ALLOWED_ALGORITHMS, IssuerConfig

AUD = 'https://keystone.example.org'


def test_defaults():
    config = IssuerConfig('https://aai.egi.eu/auth/realms/egi', audience=AUD)
    assert config.groups_claims == ('eduperson_entitlement', 'wlcg.groups')
    assert config.token_type == 'auto'
    assert config.algorithms == ALLOWED_ALGORITHMS
    assert not config.can_introspect


def test_secret_not_in_repr():
    config = IssuerConfig('https://op.example', client_id='c',
                          client_secret='very-secret', audience=AUD)
    assert 'very-secret' not in repr(config)


def test_lists_become_tuples():
    config = IssuerConfig('https://op.example', groups_claims=['groups'],
                          algorithms='RS256, ES256', audience=AUD)
    assert config.groups_claims == ('groups',)
    assert config.algorithms == ('RS256', 'ES256')


@pytest.mark.parametrize('url', ['http://127.0.0.1:8080', 'http://[::1]/x',
                                 'http://localhost/realm'])
def test_plain_http_only_on_loopback(url):
    assert IssuerConfig(url, audience=AUD).issuer == url


@pytest.mark.parametrize('kwargs, reason', [
    ({'issuer': 'http://op.example.org'}, 'must be an https URL'),
    ({'issuer': 'ftp://op.example.org'}, 'must be an https URL'),
    ({'issuer': 'op.example.org'}, 'must be an https URL'),
    ({'issuer': ''}, 'missing'),
    ({'issuer': 'https://op.example?x=1'}, 'query or fragment'),
    ({'issuer': 'https://op.example', 'token_type': 'magic'},
     'token_type'),
    ({'issuer': 'https://op.example', 'algorithms': ['HS256']},
     'refused: HS256'),
    ({'issuer': 'https://op.example', 'algorithms': ['none', 'RS256']},
     'refused: none'),
    ({'issuer': 'https://op.example', 'algorithms': []}, 'empty list'),
    ({'issuer': 'https://op.example', 'token_type': 'opaque'},
     'needs client_id and client_secret'),
    ({'issuer': 'https://op.example', 'client_id': 'x'}, 'go together'),
    ({'issuer': 'https://op.example', 'audience': None},
     'audience is not set'),
    ({'issuer': 'https://op.example', 'audience': ''},
     'audience is not set'),
])
def test_refusals(kwargs, reason):
    with pytest.raises(errors.OIDCConfigurationError, match=reason):
        IssuerConfig(**{'audience': AUD, **kwargs})


def test_any_audience_only_when_said_explicitly(caplog):
    from voms_auth.oidc import TokenValidator

    config = IssuerConfig('https://op.example', accept_any_audience=True)
    assert config.audience is None
    TokenValidator([config])
    assert 'accept_any_audience is set' in caplog.text


@pytest.mark.parametrize('url', [
    'https://op.example/jwks', 'https://OP.example:8443/keys',
    'https://keys.example.net/jwks'])
def test_endpoint_on_the_issuer_host_or_allowed(url):
    config = IssuerConfig('https://op.example/realm', audience=AUD,
                          allowed_endpoint_hosts=['Keys.example.net'])
    config.check_endpoint(url, 'jwks_uri')


@pytest.mark.parametrize('url, reason', [
    ('http://op.example/jwks', 'must be an https URL'),
    ('https://evil.example/jwks', "not on the issuer's host op.example"),
    ('https://op.example.evil.example/jwks', 'not on the issuer'),
    ('http://[::1/jwks', 'not a URL'),
    ('http://127.0.0.1/jwks', 'not on the issuer'),
])
def test_endpoint_elsewhere_refused(url, reason):
    config = IssuerConfig('https://op.example/realm', audience=AUD)
    with pytest.raises(errors.OIDCConfigurationError, match=reason):
        config.check_endpoint(url, 'jwks_uri')
