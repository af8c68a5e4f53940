"""Claims -> memberships, time and audience checks, identity."""

import datetime

import pytest

from voms_auth import identity
from voms_auth.oidc import claims, errors
from voms_auth.oidc.issuer import IssuerConfig

ISS = 'https://aai.example.org'
ENT = 'urn:mace:egi.eu:group:%s#aai.egi.eu'


def test_memberships_from_all_configured_claims_in_order():
    found = claims.memberships_from_claims({
        'eduperson_entitlement': [ENT % 'dteam:role=member',
                                  'urn:mace:egi.eu:res:rcauth#aai.egi.eu',
                                  ENT % 'dteam:role=member'],
        'wlcg.groups': ['/cms', '/cms/uscms', 'not-a-group'],
        'groups': ['atlas/prod', ENT % 'ops'],
    }, ('eduperson_entitlement', 'wlcg.groups', 'groups'))
    assert [m.as_dict() for m in found] == [
        {'vo': 'dteam', 'group': '/dteam', 'role': 'member'},
        {'vo': 'cms', 'group': '/cms', 'role': None},
        {'vo': 'cms', 'group': '/cms/uscms', 'role': None},
        {'vo': 'atlas', 'group': '/atlas/prod', 'role': None},
        {'vo': 'ops', 'group': '/ops', 'role': None},
    ]


def test_only_configured_claims_count():
    data = {'groups': ['admins'], 'wlcg.groups': ['/cms']}
    assert claims.memberships_from_claims(data, ('wlcg.groups',)) == (
        identity.Membership('cms', '/cms'),)


@pytest.mark.parametrize('value', [None, 42, {'a': 1}, [1, None],
                                   True])
def test_odd_claim_values_grant_nothing(value):
    assert claims.memberships_from_claims(
        {'wlcg.groups': value}, ('wlcg.groups',)) == ()


def test_single_string_claim():
    assert claims.memberships_from_claims(
        {'eduperson_entitlement': ENT % 'dteam'},
        ('eduperson_entitlement',)) == (identity.Membership('dteam',
                                                            '/dteam'),)


NOW = 1_800_000_000


@pytest.mark.parametrize('data, error, reason', [
    ({}, errors.MalformedToken, 'no expiry'),
    ({'exp': '1800000100'}, errors.MalformedToken, 'exp is not a number'),
    ({'exp': True}, errors.MalformedToken, 'exp is not a number'),
    ({'exp': NOW - 31}, errors.TokenExpired, 'expired at'),
    ({'exp': NOW + 100, 'nbf': NOW + 31}, errors.TokenNotYetValid, 'nbf'),
    ({'exp': NOW + 100, 'iat': NOW + 31}, errors.TokenNotYetValid, 'iat'),
    ({'exp': NOW + 100, 'iat': 'x'}, errors.MalformedToken, 'iat'),
])
def test_time_refusals(data, error, reason):
    with pytest.raises(error, match=reason):
        claims.check_times(data, NOW, 30)


def test_times_within_leeway_pass():
    assert claims.check_times({'exp': NOW - 29, 'nbf': NOW + 29,
                               'iat': NOW + 29}, NOW, 30) == NOW - 29


@pytest.mark.parametrize('aud', ['https://other', ['a', 'b'], None, 42])
def test_audience_refused(aud):
    with pytest.raises(errors.AudienceMismatch, match="not 'https://ks'"):
        claims.check_audience({'aud': aud}, 'https://ks')


@pytest.mark.parametrize('aud', ['https://ks', ['x', 'https://ks']])
def test_audience_accepted(aud):
    claims.check_audience({'aud': aud}, 'https://ks')


def test_audience_unchecked_when_not_configured():
    claims.check_audience({'aud': 'anything'}, None)


def test_identity_from_claims():
    config = IssuerConfig(ISS, name='egi', accept_any_audience=True)
    ident = claims.identity_from_claims(config, {
        'sub': 'abc@egi.eu', 'exp': NOW, 'name': 'Alice A.',
        'email': 'alice@example.org', 'client_id': 'cli', 'scope': 'openid',
        'eduperson_entitlement': [ENT % 'dteam:role=member'],
    }, 'jwt')
    assert ident.kind == 'oidc'
    assert (ident.issuer, ident.subject, ident.name) == (
        ISS, 'abc@egi.eu', 'Alice A.')
    assert ident.expires_at == datetime.datetime.fromtimestamp(
        NOW, datetime.timezone.utc)
    assert ident.memberships == (identity.Membership('dteam', '/dteam',
                                                     'member'),)
    assert ident.attributes['token_type'] == 'jwt'
    assert ident.attributes['issuer_name'] == 'egi'
    assert ident.attributes['client_id'] == 'cli'
    assert ident.attributes['claims'] == {
        'eduperson_entitlement': [ENT % 'dteam:role=member']}


def test_name_preference_and_fallback():
    config = IssuerConfig(ISS, accept_any_audience=True)
    base = {'sub': 's', 'exp': NOW}
    pick = [({'preferred_username': 'pu', 'name': 'n', 'email': 'e'}, 'pu'),
            ({'name': 'n', 'email': 'e'}, 'n'),
            ({'email': 'e', 'preferred_username': ' '}, 'e'),
            ({}, 's')]
    for extra, name in pick:
        assert claims.identity_from_claims(
            config, {**base, **extra}, 'jwt').name == name


@pytest.mark.parametrize('sub', [None, '', 42])
def test_subject_required(sub):
    with pytest.raises(errors.MalformedToken, match='no subject'):
        claims.identity_from_claims(
            IssuerConfig(ISS, accept_any_audience=True),
            {'sub': sub, 'exp': NOW}, 'jwt')


# Introspection answers a correct provider never gives (another issuer, a
# refresh token) cannot come from the real provider in the provider-backed
# tests, so these checks are tested on the answers themselves.

def _introspected(answer, audience=None):
    config = IssuerConfig(ISS, audience=audience,
                          accept_any_audience=not audience,
                          client_id='c', client_secret='s')
    return claims.claims_from_introspection(config, answer, NOW, 30, 300)


@pytest.mark.parametrize('answer, error, reason', [
    ({'active': False}, errors.TokenInactive, 'not active'),
    ({'active': 'true', 'sub': 's'}, errors.TokenInactive, 'not active'),
    ({}, errors.TokenInactive, 'not active'),
    ({'active': True, 'sub': 's', 'iss': 'https://evil.example'},
     errors.UntrustedIssuer, 'evil'),
    ({'active': True, 'sub': 's', 'token_type': 'refresh_token'},
     errors.TokenInactive, 'not an access token'),
    ({'active': True, 'sub': 's', 'exp': NOW - 60}, errors.TokenExpired,
     'expired'),
    ({'active': True, 'sub': 's', 'nbf': NOW + 60, 'exp': NOW + 99},
     errors.TokenNotYetValid, 'nbf'),
])
def test_introspection_refusals(answer, error, reason):
    with pytest.raises(error, match=reason):
        _introspected(answer)


def test_introspection_audience():
    with pytest.raises(errors.AudienceMismatch):
        _introspected({'active': True, 'sub': 's', 'aud': 'other'},
                      audience='https://ks')
    assert _introspected({'active': True, 'sub': 's', 'aud': 'https://ks',
                          'exp': NOW + 9}, audience='https://ks')['exp'] \
        == NOW + 9


def test_introspection_without_exp_trusted_for_default_ttl():
    found = _introspected({'active': True, 'sub': 's', 'iss': ISS,
                           'token_type': 'Bearer'})
    assert found == {'sub': 's', 'iss': ISS, 'token_type': 'Bearer',
                     'exp': NOW + 300}
