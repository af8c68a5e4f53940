"""The ``oidc`` auth method against a real Keystone and a real provider."""

import base64
import datetime
import itertools
import json
import time

from tests.functional.conftest import (
    AUDIENCE,
    ENT,
    MANAGER_ROLES,
    MEMBER_ROLES,
    error_message,
    role_names,
    token_body,
)

_subjects = itertools.count(1)
MEMBER = ENT + 'dteam:role=member#aai.egi.eu'
IBERGRID = ENT + 'dteam:ibergrid:role=member#aai.egi.eu'
OPERATOR = ENT + 'dteam:role=vm_operator#aai.egi.eu'


def _sub():
    return 'user-%d@test' % next(_subjects)


def test_scoped_token_from_jwt_entitlements(keystone, oidc_provider):
    token = oidc_provider.jwt_token(_sub(), AUDIENCE, entitlements=[MEMBER])
    body = token_body(keystone.oidc_login(token, project='dteam'))
    assert body['project']['name'] == 'dteam'
    assert role_names(body) == MEMBER_ROLES
    assert body['methods'] == ['oidc']


def test_bearer_header_and_unscoped_token(keystone, oidc_provider):
    token = oidc_provider.jwt_token(_sub(), AUDIENCE,
                                    entitlements=[MEMBER, IBERGRID])
    response = keystone.oidc_login(token, bearer=True)
    body = token_body(response)
    assert 'project' not in body
    projects = keystone.get('/v3/auth/projects',
                            token=response.headers['X-Subject-Token'])
    assert sorted(p['name'] for p in projects.get_json()['projects']) == [
        'dteam', 'dteam-ibergrid']


def test_opaque_token_via_introspection_and_userinfo(keystone,
                                                     opaque_provider):
    token = opaque_provider.opaque_token(
        _sub(), userinfo={'eduperson_entitlement': [MEMBER, IBERGRID],
                          'preferred_username': 'opaque-user'})
    body = token_body(keystone.oidc_login(token, project='dteam-ibergrid'))
    assert body['project']['name'] == 'dteam-ibergrid'
    assert role_names(body) == MEMBER_ROLES
    assert body['user']['name'].endswith('(%s)' % opaque_provider.issuer)


def test_revoked_opaque_token_is_refused(keystone, opaque_provider):
    token = opaque_provider.opaque_token(
        _sub(), userinfo={'eduperson_entitlement': [MEMBER]})
    opaque_provider.revoke(token)
    response = keystone.oidc_login(token)
    assert response.status_code == 401
    assert 'not active' in error_message(response)


def test_role_removed_when_entitlement_is_gone(keystone, oidc_provider,
                                               assignments):
    sub = _sub()
    operator = oidc_provider.jwt_token(sub, AUDIENCE,
                                       entitlements=[MEMBER, OPERATOR])
    body = token_body(keystone.oidc_login(operator, project='dteam'))
    assert role_names(body) == MANAGER_ROLES
    member = oidc_provider.jwt_token(sub, AUDIENCE, entitlements=[MEMBER])
    again = token_body(keystone.oidc_login(member, project='dteam'))
    assert again['user']['id'] == body['user']['id']
    assert role_names(again) == MEMBER_ROLES
    assert assignments(body['user']['id']) == {('dteam', 'member')}


def test_same_sub_from_proxy_world_is_another_user(keystone, oidc_provider,
                                                   pki):
    """The token's (iss, sub) and a proxy's (CA, DN) never share a user,
    even when the strings coincide."""
    user = pki.new_user('Token Twin')
    proxy = token_body(keystone.voms_login(
        pki.make_proxy(user, fqans=['/dteam'])))
    token = oidc_provider.jwt_token(user.dn, AUDIENCE, entitlements=[MEMBER])
    oidc = token_body(keystone.oidc_login(token))
    assert proxy['user']['id'] != oidc['user']['id']


def test_expired_token_is_refused(keystone, oidc_provider):
    token = oidc_provider.jwt_token(_sub(), AUDIENCE, entitlements=[MEMBER],
                                    ttl=1)
    time.sleep(2.5)  # Keystone runs with oidc_leeway = 0
    response = keystone.oidc_login(token, project='dteam')
    assert response.status_code == 401
    assert 'expired' in error_message(response).lower()


def test_forged_token_is_refused(keystone, oidc_provider):
    token = oidc_provider.jwt_token(_sub(), AUDIENCE, entitlements=[MEMBER])
    header, payload, signature = token.split('.')
    claims = json.loads(base64.urlsafe_b64decode(payload + '=='))
    claims['eduperson_entitlement'] = [OPERATOR]
    forged_payload = base64.urlsafe_b64encode(
        json.dumps(claims).encode()).rstrip(b'=').decode()
    response = keystone.oidc_login(
        '.'.join([header, forged_payload, signature]), project='dteam')
    assert response.status_code == 401
    assert 'signature' in error_message(response).lower()


def test_wrong_audience_is_refused(keystone, oidc_provider):
    token = oidc_provider.jwt_token(_sub(), 'https://elsewhere.example',
                                    entitlements=[MEMBER])
    response = keystone.oidc_login(token)
    assert response.status_code == 401
    assert 'audience' in error_message(response).lower()


def test_garbage_token_is_401_not_500(keystone):
    for junk in ('x', 'a.b.c', '....', '\u00e9' * 5):
        response = keystone.oidc_login(junk)
        assert response.status_code == 401, junk
        assert error_message(response)


def test_token_expiry_is_capped_at_the_access_token(keystone, oidc_provider):
    token = oidc_provider.jwt_token(_sub(), AUDIENCE, entitlements=[MEMBER],
                                    ttl=600)
    body = token_body(keystone.oidc_login(token, project='dteam'))
    expires = datetime.datetime.fromisoformat(
        body['expires_at'].replace('Z', '+00:00'))
    now = datetime.datetime.now(datetime.timezone.utc)
    assert expires <= now + datetime.timedelta(seconds=601)
