"""TokenValidator against a real OpenID Provider (oidc-provider on node).

Every token here is issued and signed by the provider through its token
endpoint, except where a test says it crafts one: a forged or tampered
token is by definition not something a provider issues.
"""

import base64
import concurrent.futures
import hashlib
import hmac
import json
import logging
import time

import pytest
from jwt.utils import base64url_decode
from oslo_cache import core as cache_core
from oslo_config import cfg

from tests.support.oidc_provider import OpenIDProvider
from voms_auth.identity import Membership
from voms_auth.oidc import (
    AudienceMismatch,
    DisallowedAlgorithm,
    DiscoveryMismatch,
    InvalidSignature,
    IssuerConfig,
    MalformedToken,
    OIDCConfigurationError,
    ProviderUnavailable,
    SubjectMismatch,
    TokenError,
    TokenExpired,
    TokenInactive,
    TokenNotYetValid,
    TokenValidator,
    UnknownSigningKey,
    UntrustedIssuer,
)

AUD = 'https://keystone.example.org'
ENT = ('urn:mace:egi.eu:group:vo.example.org:sub:role=member#aai.egi.eu',
       'urn:mace:egi.eu:group:dteam:ibergrid:role=vm_operator#aai.egi.eu',
       'urn:mace:egi.eu:res:rcauth#aai.egi.eu')
EXPECTED = (Membership('vo.example.org', '/vo.example.org/sub', 'member'),
            Membership('dteam', '/dteam/ibergrid', 'vm_operator'))


def _validator(op, *, validator_kwargs=None, **issuer_kwargs):
    issuer_kwargs.setdefault('audience', AUD)
    if issuer_kwargs['audience'] is None:
        issuer_kwargs.setdefault('accept_any_audience', True)
    issuer_kwargs.setdefault('client_id', op.client_id)
    issuer_kwargs.setdefault('client_secret', op.client_secret)
    return TokenValidator([IssuerConfig(op.issuer, **issuer_kwargs)],
                          **(validator_kwargs or {}))


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def _parts(token):
    header, payload, signature = token.split('.')
    return (json.loads(base64url_decode(header)),
            json.loads(base64url_decode(payload)), signature)


def _craft(header, payload, signature=''):
    return '%s.%s.%s' % (_b64(json.dumps(header).encode()),
                         _b64(json.dumps(payload).encode()), signature)


def _public_keys(op):
    try:
        return op.jwks()['keys']
    except Exception:  # noqa: BLE001 - provider already stopped
        return []


@pytest.fixture
def own_op():
    """A provider of the test's own, free to be stopped or re-keyed."""
    with OpenIDProvider() as op:
        yield op


# -- accepted ---------------------------------------------------------------

def test_jwt_with_entitlements(oidc_provider):
    token = oidc_provider.jwt_token(
        'alice@egi.eu', AUD, entitlements=ENT, wlcg_groups=['/cms/uscms'],
        claims={'preferred_username': 'alice', 'email': 'a@example.org'})
    ident = _validator(oidc_provider).validate(token)
    assert ident.kind == 'oidc'
    assert ident.issuer == oidc_provider.issuer
    assert ident.subject == 'alice@egi.eu'
    assert ident.name == 'alice'
    assert ident.memberships == EXPECTED + (Membership('cms', '/cms/uscms'),)
    exp = _parts(token)[1]['exp']
    assert ident.expires_at.timestamp() == exp
    assert ident.attributes['token_type'] == 'jwt'


@pytest.mark.parametrize('alg', ['PS256', 'ES256', 'EdDSA'])
def test_other_allowed_algorithms(oidc_provider, alg):
    token = oidc_provider.jwt_token('bob', AUD, wlcg_groups=['/atlas'],
                                    alg=alg)
    assert _parts(token)[0]['alg'] == alg
    ident = _validator(oidc_provider).validate(token)
    assert ident.memberships == (Membership('atlas', '/atlas'),)


def test_algorithm_outside_issuer_subset_refused(oidc_provider):
    token = oidc_provider.jwt_token('bob', AUD, alg='ES256')
    validator = _validator(oidc_provider, algorithms=('RS256',))
    with pytest.raises(DisallowedAlgorithm, match="'ES256' is not allowed"):
        validator.validate(token)


def test_opaque_token_via_introspection_and_userinfo(oidc_provider):
    token = oidc_provider.opaque_token('carol', userinfo={
        'name': 'Carol C.', 'eduperson_entitlement': list(ENT)})
    assert token.count('.') == 0
    ident = _validator(oidc_provider, audience=None,
                       use_userinfo=True).validate(token)
    assert ident.subject == 'carol'
    assert ident.name == 'Carol C.'
    assert ident.memberships == EXPECTED
    assert ident.attributes['token_type'] == 'opaque'
    answer = oidc_provider.introspect(token)
    assert ident.expires_at.timestamp() == answer['exp']


def test_opaque_token_without_userinfo_uses_introspection_claims(
        oidc_provider):
    token = oidc_provider.opaque_token(
        'dave', userinfo={'eduperson_entitlement': list(ENT)},
        token_claims={'wlcg.groups': ['/cms']})
    ident = _validator(oidc_provider, audience=None).validate(token)
    assert ident.memberships == (Membership('cms', '/cms'),)


def test_token_after_key_rotation(own_op):
    validator = _validator(own_op, validator_kwargs={
        'jwks_refetch_interval': 0})
    validator.validate(own_op.jwt_token('alice', AUD))
    own_op.rotate_keys()
    token = own_op.jwt_token('alice', AUD, entitlements=ENT)
    assert validator.validate(token).memberships == EXPECTED


def test_provider_down_but_keys_cached(own_op):
    validator = _validator(own_op)
    validator.validate(own_op.jwt_token('alice', AUD))
    later = own_op.jwt_token('bob', AUD, entitlements=ENT)
    own_op.stop()
    ident = validator.validate(later)
    assert (ident.subject, ident.memberships) == ('bob', EXPECTED)


def test_stale_keys_kept_when_refresh_fails(own_op):
    validator = _validator(own_op, validator_kwargs={
        'jwks_max_age': 0.001, 'jwks_refetch_interval': 0})
    validator.validate(own_op.jwt_token('alice', AUD))
    later = own_op.jwt_token('bob', AUD)
    own_op.stop()
    time.sleep(0.01)                 # the keys are now stale
    assert validator.validate(later).subject == 'bob'
    assert validator.prefetch() == (own_op.issuer,)


def test_no_token_or_key_in_logs(own_op, caplog):
    caplog.set_level(logging.DEBUG)
    validator = _validator(own_op, use_userinfo=True, validator_kwargs={
        'jwks_max_age': 0.001, 'jwks_refetch_interval': 0})
    jwt_token = own_op.jwt_token('alice', AUD, entitlements=ENT)
    opaque = own_op.opaque_token('bob')
    for token in (jwt_token, opaque, jwt_token[:-4] + 'AAAA'):
        with pytest.raises(TokenError):
            validator.validate(token)
    own_op.stop()
    time.sleep(0.01)
    for token in (jwt_token, opaque):
        with pytest.raises(TokenError):
            validator.validate(token)
    assert caplog.records             # something was logged ...
    text = '\n'.join(r.getMessage() for r in caplog.records)
    secrets = [jwt_token, jwt_token.split('.')[2], opaque,
               own_op.client_secret]
    secrets += [k['n'] for k in _public_keys(own_op) if 'n' in k]
    for secret in secrets:           # ... but no token, signature or key
        assert secret not in text


def test_introspection_answer_cached_until_provider_comes_back(own_op):
    token = own_op.opaque_token('erin', token_claims={'wlcg.groups':
                                                      ['/cms']})
    validator = _validator(own_op, audience=None)
    validator.validate(token)
    own_op.stop()
    assert validator.validate(token).subject == 'erin'


def test_cache_shared_through_oslo_cache(own_op):
    conf = cfg.ConfigOpts()
    cache_core.configure(conf)
    conf.set_override('enabled', True, group='cache')
    conf.set_override('backend', 'dogpile.cache.memory', group='cache')
    region = cache_core.create_region()
    cache_core.configure_cache_region(conf, region)
    token = own_op.opaque_token('fred', token_claims={'wlcg.groups':
                                                      ['/lhcb']})
    node_a = _validator(own_op, audience=None,
                        validator_kwargs={'cache': region})
    node_b = _validator(own_op, audience=None,
                        validator_kwargs={'cache': region})
    node_a.validate(token)
    own_op.stop()
    assert node_b.validate(token).memberships == (Membership('lhcb',
                                                             '/lhcb'),)


def test_concurrent_first_use(own_op):
    token = own_op.jwt_token('gina', AUD, entitlements=ENT)
    validator = _validator(own_op)
    # as many threads as may wait on one provider (max_calls, default 4)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(validator.validate, [token] * 32))
    assert {r.subject for r in results} == {'gina'}


def test_leeway_accepts_slightly_expired(oidc_provider):
    token = oidc_provider.jwt_token('hank', AUD, ttl=1)
    later = time.time() + 10
    validator = _validator(oidc_provider, validator_kwargs={
        'leeway': 30, 'clock': lambda: later})
    assert validator.validate(token).subject == 'hank'


# -- refused ----------------------------------------------------------------

def test_expired(oidc_provider):
    token = oidc_provider.jwt_token('alice', AUD, ttl=1)
    time.sleep(2.1)
    validator = _validator(oidc_provider, validator_kwargs={'leeway': 0})
    with pytest.raises(TokenExpired, match='token expired at'):
        validator.validate(token)


def test_expired_opaque(oidc_provider):
    token = oidc_provider.opaque_token('alice')
    later = oidc_provider.introspect(token)['exp'] + 60
    validator = _validator(oidc_provider, audience=None,
                           validator_kwargs={'clock': lambda: later})
    with pytest.raises(TokenExpired):
        validator.validate(token)


def test_not_yet_valid_nbf(oidc_provider):
    # the provider itself signs the future nbf (an extra token claim)
    token = oidc_provider.jwt_token('alice', AUD,
                                    claims={'nbf': int(time.time()) + 3600})
    with pytest.raises(TokenNotYetValid, match=r'\(nbf\)'):
        _validator(oidc_provider).validate(token)


def test_not_yet_valid_iat(oidc_provider):
    token = oidc_provider.jwt_token('alice', AUD)
    earlier = time.time() - 3600     # our clock is an hour behind the OP
    validator = _validator(oidc_provider,
                           validator_kwargs={'clock': lambda: earlier})
    with pytest.raises(TokenNotYetValid, match=r'\(iat\)'):
        validator.validate(token)


def test_wrong_issuer(oidc_provider):
    with OpenIDProvider() as other:
        token = other.jwt_token('alice', AUD, entitlements=ENT)
        with pytest.raises(UntrustedIssuer, match='is not trusted'):
            _validator(oidc_provider).validate(token)


def test_issuer_not_matching_the_signing_key(oidc_provider):
    # signed by the trusted provider's key, but claiming another issuer
    token = oidc_provider.jwt_token('alice', AUD,
                                    iss='https://evil.example.org')
    assert _parts(token)[1]['iss'] == 'https://evil.example.org'
    validator = _validator(oidc_provider)
    validator.prefetch()             # the key is known, but iss decides
    with pytest.raises(UntrustedIssuer, match='is not trusted'):
        validator.validate(token)


def test_key_of_one_trusted_issuer_does_not_sign_for_another(
        oidc_provider):
    # both issuers trusted; A's key signs a token claiming to be from B
    with OpenIDProvider() as other:
        token = oidc_provider.jwt_token('alice', AUD, iss=other.issuer)
        validator = TokenValidator([IssuerConfig(oidc_provider.issuer,
                                                 audience=AUD),
                                    IssuerConfig(other.issuer,
                                                 audience=AUD)])
        validator.prefetch()         # A's kid is in the cache
        with pytest.raises(UnknownSigningKey, match='does not publish'):
            validator.validate(token)
        kidless = _craft({k: v for k, v in _parts(token)[0].items()
                          if k != 'kid'}, *_parts(token)[1:])
        with pytest.raises(InvalidSignature):
            validator.validate(kidless)


def test_wrong_audience(oidc_provider):
    token = oidc_provider.jwt_token('alice', 'https://other.example.org')
    with pytest.raises(AudienceMismatch, match='other.example.org'):
        _validator(oidc_provider).validate(token)


def test_tampered_payload(oidc_provider):
    token = oidc_provider.jwt_token('alice', AUD, entitlements=ENT[:1])
    header, payload, signature = _parts(token)
    payload['eduperson_entitlement'].append(
        'urn:mace:egi.eu:group:admins:role=owner#aai.egi.eu')
    # crafted on purpose: the provider's signature over another payload
    forged = _craft(header, payload, signature)
    with pytest.raises(InvalidSignature, match='does not verify'):
        _validator(oidc_provider).validate(forged)


def test_alg_none(oidc_provider):
    token = oidc_provider.jwt_token('alice', AUD)
    header, payload, _ = _parts(token)
    header['alg'] = 'none'
    for signature in ('', 'AAAA'):
        forged = _craft(header, payload, signature)
        with pytest.raises(DisallowedAlgorithm, match="'none' is not "
                                                      "allowed"):
            _validator(oidc_provider).validate(forged)


def test_hs256_with_the_providers_public_key(oidc_provider):
    from cryptography.hazmat.primitives import serialization
    from jwt.algorithms import RSAAlgorithm

    token = oidc_provider.jwt_token('alice', AUD)
    header, payload, _ = _parts(token)
    jwk = next(k for k in oidc_provider.jwks()['keys']
               if k['kid'] == header['kid'])
    public_pem = RSAAlgorithm.from_jwk(jwk).public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    header['alg'] = 'HS256'
    payload['eduperson_entitlement'] = list(ENT)
    unsigned = _craft(header, payload)[:-1]
    for secret in (public_pem, json.dumps(jwk).encode()):
        mac = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
        forged = unsigned + '.' + _b64(mac)
        with pytest.raises(DisallowedAlgorithm, match="'HS256' is not "
                                                      "allowed"):
            _validator(oidc_provider).validate(forged)


def test_unknown_kid_after_refetch(own_op):
    token = own_op.jwt_token('alice', AUD)
    own_op.rotate_keys()             # the old key is no longer published
    validator = _validator(own_op)
    with pytest.raises(UnknownSigningKey, match='does not publish'):
        validator.validate(token)
    # the refetch happened: new tokens (new kid) validate right away
    assert validator.validate(own_op.jwt_token('bob', AUD)).subject == 'bob'


def test_key_mismatching_algorithm_refused(oidc_provider):
    # a real ES256 token whose header claims RS256: the EC key is not for it
    token = oidc_provider.jwt_token('alice', AUD, alg='ES256')
    header, payload, signature = _parts(token)
    header['alg'] = 'RS256'
    with pytest.raises(DisallowedAlgorithm, match='does not match'):
        _validator(oidc_provider).validate(_craft(header, payload,
                                                  signature))


def test_unknown_kid_refetch_is_rate_limited(own_op):
    validator = _validator(own_op, validator_kwargs={
        'jwks_refetch_interval': 3600})
    token = own_op.jwt_token('alice', AUD)
    validator.validate(token)
    header, payload, signature = _parts(token)
    bogus = [_craft({**header, 'kid': 'bogus-%d' % i}, payload, signature)
             for i in range(3)]
    # first unknown kid: the validator asks the provider (it is up) ...
    with pytest.raises(UnknownSigningKey):
        validator.validate(bogus[0])
    own_op.stop()
    # ... further ones within the interval do not reach it at all: had the
    # validator tried, the stopped provider would make it ProviderUnavailable
    for forged in bogus[1:]:
        with pytest.raises(UnknownSigningKey):
            validator.validate(forged)


def test_unknown_kid_while_provider_down(own_op):
    validator = _validator(own_op, validator_kwargs={
        'jwks_refetch_interval': 0})
    token = own_op.jwt_token('alice', AUD)
    validator.validate(token)
    header, payload, signature = _parts(token)
    own_op.stop()
    with pytest.raises(ProviderUnavailable,
                       match='identity provider unavailable'):
        validator.validate(_craft({**header, 'kid': 'new'}, payload,
                                  signature))


def test_inactive_per_introspection(oidc_provider):
    token = oidc_provider.opaque_token('alice')
    oidc_provider.revoke(token)
    assert oidc_provider.introspect(token) == {'active': False}
    with pytest.raises(TokenInactive, match='not active'):
        _validator(oidc_provider, audience=None).validate(token)


def test_unknown_opaque_token_inactive(oidc_provider):
    with pytest.raises(TokenInactive, match='not active'):
        _validator(oidc_provider, audience=None).validate(
            'nOtAtOkEnThIsPrOvIdErIsSuEd0123456789abcdef')


def test_userinfo_about_someone_else(oidc_provider):
    token = oidc_provider.opaque_token('alice', userinfo={
        'sub': 'mallory', 'eduperson_entitlement': list(ENT)})
    validator = _validator(oidc_provider, audience=None, use_userinfo=True)
    with pytest.raises(SubjectMismatch, match="'mallory'"):
        validator.validate(token)


def test_service_token_without_user_refused(oidc_provider):
    token = oidc_provider.client_credentials_token()
    assert oidc_provider.introspect(token)['active'] is True
    with pytest.raises(MalformedToken, match='no subject'):
        _validator(oidc_provider, audience=None).validate(token)


def test_provider_down_for_opaque_token(own_op):
    token = own_op.opaque_token('alice', userinfo={
        'eduperson_entitlement': list(ENT)})
    validator = _validator(own_op, audience=None, use_userinfo=True)
    own_op.stop()
    with pytest.raises(ProviderUnavailable,
                       match='identity provider unavailable'):
        validator.validate(token)


def test_provider_down_for_userinfo_of_a_jwt(own_op):
    validator = _validator(own_op, use_userinfo=True)
    validator.prefetch()
    token = own_op.jwt_token('alice', AUD)
    own_op.stop()
    with pytest.raises(ProviderUnavailable):
        validator.validate(token)


def test_opaque_audience_required_when_configured(oidc_provider):
    token = oidc_provider.opaque_token('alice')
    with pytest.raises(AudienceMismatch, match=r'\(none\)'):
        _validator(oidc_provider).validate(token)


def test_opaque_token_refused_by_jwt_only_issuer(oidc_provider):
    token = oidc_provider.opaque_token('alice')
    with pytest.raises(MalformedToken, match='not a JWT'):
        _validator(oidc_provider, token_type='jwt').validate(token)


def test_introspection_with_wrong_client_secret(oidc_provider):
    token = oidc_provider.opaque_token('alice')
    validator = _validator(oidc_provider, audience=None,
                           client_secret='wrong')
    with pytest.raises(OIDCConfigurationError, match='client_secret'):
        validator.validate(token)


def test_discovery_naming_another_issuer(oidc_provider):
    token = oidc_provider.jwt_token('alice', AUD)
    # configured with a trailing slash: "iss" and discovery lack it
    validator = TokenValidator([IssuerConfig(oidc_provider.issuer + '/',
                                             audience=AUD)])
    with pytest.raises(UntrustedIssuer):
        validator.validate(token)
    with pytest.raises(DiscoveryMismatch, match='names issuer'):
        validator.prefetch()


@pytest.mark.parametrize('token, reason', [
    ('', 'empty'),
    ('a.b', 'no issuer is configured'),
    ('x' * 20000, 'longer than'),
    ('abc def', 'characters'),
    ('tök.en.x', 'characters'),
    ('a.b.c.d.e', 'JWE'),
    ('!!!.e30.', 'characters'),
    ('YWJj.e30.', 'not base64url JSON'),
    ('e30.e30.', 'no algorithm'),
    ('W10.e30.', 'not a JSON object'),
])
def test_malformed(oidc_provider, token, reason):
    validator = _validator(oidc_provider, token_type='jwt')
    with pytest.raises(MalformedToken, match=reason):
        validator.validate(token)

