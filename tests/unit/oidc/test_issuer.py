"""IssuerConfig refuses unusable settings."""

import pytest

from voms_auth.oidc import errors
from voms_auth.oidc.issuer import ALLOWED_ALGORITHMS, IssuerConfig


def test_defaults():
    config = IssuerConfig('https://aai.egi.eu/auth/realms/egi')
    assert config.groups_claims == ('eduperson_entitlement', 'wlcg.groups')
    assert config.token_type == 'auto'
    assert config.algorithms == ALLOWED_ALGORITHMS
    assert not config.can_introspect


def test_secret_not_in_repr():
    config = IssuerConfig('https://op.example', client_id='c',
                          client_secret='very-secret')
    assert 'very-secret' not in repr(config)


def test_lists_become_tuples():
    config = IssuerConfig('https://op.example', groups_claims=['groups'],
                          algorithms='RS256, ES256')
    assert config.groups_claims == ('groups',)
    assert config.algorithms == ('RS256', 'ES256')


@pytest.mark.parametrize('url', ['http://127.0.0.1:8080', 'http://[::1]/x',
                                 'http://localhost/realm'])
def test_plain_http_only_on_loopback(url):
    assert IssuerConfig(url).issuer == url


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
])
def test_refusals(kwargs, reason):
    with pytest.raises(errors.OIDCConfigurationError, match=reason):
        IssuerConfig(**kwargs)
