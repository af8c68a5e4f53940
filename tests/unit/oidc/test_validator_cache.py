"""The one OIDC result cache: token fingerprint -> Identity, JWTs too."""

import pytest

from tests.support.oidc_provider import OpenIDProvider
from voms_auth.oidc import IssuerConfig, ProviderUnavailable, TokenValidator

AUD = 'https://keystone.example.org'


@pytest.fixture
def own_op():
    with OpenIDProvider() as op:
        yield op


def _validator(op, **kwargs):
    return TokenValidator([IssuerConfig(
        op.issuer, accept_any_audience=True, client_id=op.client_id,
        client_secret=op.client_secret)], **kwargs)


def test_jwt_result_is_cached(own_op):
    token = own_op.jwt_token('ada', AUD)
    validator = _validator(own_op)
    first = validator.validate(token)
    assert validator.validate(token) is first
    assert _validator(own_op).validate(token) is not first


def test_opaque_result_is_cached(own_op):
    token = own_op.opaque_token('ann')
    validator = _validator(own_op)
    first = validator.validate(token)
    own_op.stop()              # introspection is no longer reachable
    assert validator.validate(token) is first


def test_cache_size_zero_disables_the_cache(own_op):
    token = own_op.opaque_token('bea')
    validator = _validator(own_op, cache_size=0)
    validator.validate(token)
    own_op.stop()
    with pytest.raises(ProviderUnavailable):
        validator.validate(token)


def test_cache_ttl_bounds_reuse(own_op):
    now = [own_op.introspect(own_op.opaque_token('x'))['iat'] + 1.0]
    token = own_op.jwt_token('cid', AUD)
    validator = _validator(own_op, cache_ttl=10, clock=lambda: now[0])
    first = validator.validate(token)
    now[0] += 9
    assert validator.validate(token) is first
    now[0] += 2
    assert validator.validate(token) is not first


def test_never_past_the_token_expiry(own_op):
    token = own_op.jwt_token('dee', AUD, ttl=5)
    now = [own_op.introspect(own_op.opaque_token('x'))['iat'] + 1.0]
    validator = _validator(own_op, cache_ttl=3600, leeway=300,
                           clock=lambda: now[0])
    first = validator.validate(token)
    now[0] += 60               # past exp, within the leeway
    assert validator.validate(token) is not first
