"""TokenValidator refusals decided before any provider is asked."""

import base64
import json

import pytest

from voms_auth.oidc import (
    IssuerConfig,
    OIDCConfigurationError,
    TokenValidator,
    UntrustedIssuer,
)


def _b64(obj):
    return base64.urlsafe_b64encode(
        json.dumps(obj).encode()).rstrip(b'=').decode()


def _token(payload, header=None):
    return '%s.%s.c2ln' % (_b64(header or {'alg': 'RS256', 'kid': 'k'}),
                           _b64(payload))


# an unroutable issuer: any attempt to reach it would fail the test with
# ProviderUnavailable instead of the expected refusal
VALIDATOR_ISSUER = 'https://op.invalid'


@pytest.fixture
def validator():
    return TokenValidator([IssuerConfig(VALIDATOR_ISSUER, audience='x')],
                          http_timeout=1)


@pytest.mark.parametrize('iss', [None, 42, 'https://evil.example',
                                 VALIDATOR_ISSUER + '/', 'x' * 5000])
def test_untrusted_issuer_refused_without_network(validator, iss):
    with pytest.raises(UntrustedIssuer, match='is not trusted') as info:
        validator.validate(_token({'iss': iss, 'sub': 's'}))
    assert len(str(info.value)) < 200     # attacker text is cut short


def test_no_issuers():
    with pytest.raises(OIDCConfigurationError, match='no trusted issuers'):
        TokenValidator([])


def test_issuer_twice():
    with pytest.raises(OIDCConfigurationError, match='configured twice'):
        TokenValidator([IssuerConfig(VALIDATOR_ISSUER, audience='y'),
                        IssuerConfig(VALIDATOR_ISSUER, audience='x')])


def test_issuers_must_be_issuer_configs():
    with pytest.raises(OIDCConfigurationError, match='IssuerConfig'):
        TokenValidator([{'issuer': VALIDATOR_ISSUER}])
