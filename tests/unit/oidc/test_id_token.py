"""ID tokens are not access tokens: refused even when signed and for us."""

import pytest

from voms_auth import oidc

AUD = 'https://keystone.example.org'


def _validator(op, audience=AUD):
    return oidc.TokenValidator([oidc.IssuerConfig(
        issuer=op.issuer, audience=audience)], leeway=5)


@pytest.mark.parametrize('claims', [
    {'at_hash': 'x4YOcj0Vw-E8WkTMRAqkWw'},
    {'c_hash': 'LDktKdoQak3Pk0cnXxCltA'},
    {'typ': 'ID'},
])
def test_id_token_refused(oidc_provider, claims):
    token = oidc_provider.jwt_token('ida', AUD, claims=claims)
    with pytest.raises(oidc.NotAnAccessToken, match='ID token'):
        _validator(oidc_provider).validate(token)


def test_access_token_with_bearer_typ_accepted(oidc_provider):
    token = oidc_provider.jwt_token('bea', AUD, claims={'typ': 'Bearer'})
    assert _validator(oidc_provider).validate(token).subject == 'bea'
