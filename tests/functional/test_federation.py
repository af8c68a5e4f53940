"""Keystone's federation URLs served by voms-auth (``[auth] openid =
voms_auth``, ``mapped = voms_auth``), beside Keystone's own ``Mapped`` for
an identity provider voms-auth does not serve.

Requests are sent as keystoneauth1's federation plugins send them: ``POST
/v3/OS-FEDERATION/identity_providers/<idp>/protocols/<P>/auth`` with no
body, the access token as ``Authorization: Bearer``, a proxy as the TLS
client certificate (mod_ssl's variables); then ``GET /v3/auth/projects``
and a re-scope with the ``token`` method.
"""

import datetime
import itertools
import time

import pytest

from tests.functional.conftest import (
    AUDIENCE,
    ENT,
    MEMBER_ROLES,
    error_message,
    role_names,
    token_body,
)

_subjects = itertools.count(1)
MEMBER = ENT + 'dteam:role=member#aai.egi.eu'
IBERGRID = ENT + 'dteam:ibergrid:role=member#aai.egi.eu'


def _sub():
    return 'fed-user-%d@test' % next(_subjects)


def _token_id(response):
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.headers['X-Subject-Token']


def _project_names(keystone, token):
    response = keystone.get('/v3/auth/projects', token=token)
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(p['name'] for p in response.get_json()['projects'])


def _expiry(body):
    return datetime.datetime.fromisoformat(
        body['expires_at'].replace('Z', '+00:00'))


# -- openid: access tokens ----------------------------------------------------

def test_openid_url_unscoped_projects_and_rescope(keystone, oidc_provider):
    token = oidc_provider.jwt_token(_sub(), AUDIENCE,
                                    entitlements=[MEMBER, IBERGRID])
    response = keystone.federation_login('egi.eu', 'openid', token=token)
    unscoped = token_body(response)
    assert 'project' not in unscoped
    assert unscoped['methods'] == ['openid']
    keystone_token = _token_id(response)
    assert _project_names(keystone, keystone_token) == [
        'dteam', 'dteam-ibergrid']
    scoped = token_body(keystone.rescope(keystone_token, 'dteam'))
    assert scoped['project']['name'] == 'dteam'
    assert role_names(scoped) == MEMBER_ROLES
    assert scoped['user']['id'] == unscoped['user']['id']
    assert sorted(scoped['methods']) == ['openid', 'token']


def test_rescope_to_an_unmapped_project_is_refused(keystone, oidc_provider):
    token = oidc_provider.jwt_token(_sub(), AUDIENCE, entitlements=[MEMBER])
    keystone_token = _token_id(
        keystone.federation_login('egi.eu', 'openid', token=token))
    response = keystone.rescope(keystone_token, 'admin')
    assert response.status_code == 401
    assert 'dteam-ibergrid' not in _project_names(keystone, keystone_token)


def test_token_is_capped_at_the_access_token_on_rescope(keystone,
                                                        oidc_provider):
    token = oidc_provider.jwt_token(_sub(), AUDIENCE, entitlements=[MEMBER],
                                    ttl=120)
    before = datetime.datetime.now(datetime.timezone.utc)
    response = keystone.federation_login('egi.eu', 'openid', token=token)
    unscoped = token_body(response)
    # Keystone runs with 24 h tokens: the access token's 2 minutes win,
    # and the re-scoped token keeps that end.
    assert _expiry(unscoped) <= before + datetime.timedelta(seconds=121)
    scoped = token_body(keystone.rescope(_token_id(response), 'dteam'))
    assert _expiry(scoped) == _expiry(unscoped)


def test_opaque_token_on_its_own_identity_provider(keystone,
                                                   opaque_provider):
    token = opaque_provider.opaque_token(
        _sub(), userinfo={'eduperson_entitlement': [MEMBER]})
    body = token_body(keystone.federation_login('checkin', 'openid',
                                                token=token))
    assert body['user']['name'].endswith('(%s)' % opaque_provider.issuer)


def test_token_of_another_issuer_is_refused(keystone, oidc_provider,
                                            opaque_provider):
    jwt = oidc_provider.jwt_token(_sub(), AUDIENCE, entitlements=[MEMBER])
    response = keystone.federation_login('checkin', 'openid', token=jwt)
    assert response.status_code == 401
    assert error_message(response) == (
        'access tokens of issuer %s are not accepted on identity provider '
        'checkin (it takes tokens of %s)'
        % (oidc_provider.issuer, opaque_provider.issuer))
    opaque = opaque_provider.opaque_token(
        _sub(), userinfo={'eduperson_entitlement': [MEMBER]})
    response = keystone.federation_login('egi.eu', 'openid', token=opaque)
    assert response.status_code == 401
    assert 'not accepted on identity provider egi.eu' in error_message(
        response)


def test_token_on_a_proxy_only_identity_provider_is_refused(keystone,
                                                            oidc_provider):
    token = oidc_provider.jwt_token(_sub(), AUDIENCE, entitlements=[MEMBER])
    response = keystone.federation_login('grid-only', 'openid', token=token)
    assert response.status_code == 401
    assert error_message(response) == (
        'identity provider grid-only takes VOMS proxies, which protocol '
        'openid does not carry')


def test_no_token_is_refused_with_reason(keystone):
    response = keystone.federation_login('egi.eu', 'openid')
    assert response.status_code == 401
    assert 'no access token was presented' in error_message(response)


def test_unmapped_person_is_refused(keystone, oidc_provider):
    token = oidc_provider.jwt_token(
        _sub(), AUDIENCE, entitlements=[ENT + 'atlas:role=member#x.org'])
    response = keystone.federation_login('egi.eu', 'openid', token=token)
    assert response.status_code == 401
    assert 'no rule of the mapping grants access' in error_message(response)


def test_expired_token_is_refused(keystone, oidc_provider):
    token = oidc_provider.jwt_token(_sub(), AUDIENCE, entitlements=[MEMBER],
                                    ttl=1)
    time.sleep(2.5)  # Keystone runs with oidc_leeway = 0
    response = keystone.federation_login('egi.eu', 'openid', token=token)
    assert response.status_code == 401
    assert 'expired' in error_message(response).lower()


def test_identity_provider_disabled_in_keystone_is_refused(keystone,
                                                           oidc_provider):
    token = oidc_provider.jwt_token(_sub(), AUDIENCE, entitlements=[MEMBER])
    # Not known to Keystone: voms-auth's configuration defines it.
    assert keystone.federation_login('testop-disabled', 'openid',
                                     token=token).status_code == 201
    created = keystone.api('PUT', '/v3/OS-FEDERATION/identity_providers/'
                           'testop-disabled',
                           json={'identity_provider': {'enabled': False}})
    assert created.status_code == 201, created.get_data(as_text=True)
    response = keystone.federation_login('testop-disabled', 'openid',
                                         token=token)
    assert response.status_code == 401
    assert error_message(response) == (
        'identity provider testop-disabled is disabled in Keystone')


# -- mapped: proxies, and tokens where no proxy is taken ----------------------

def test_proxy_on_mapped_is_the_voms_user(keystone, pki):
    user = pki.new_user('Federated Proxy User')
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    response = keystone.federation_login('egi.eu', 'mapped',
                                         proxy_file=proxy)
    unscoped = token_body(response)
    assert unscoped['methods'] == ['mapped']
    assert 'project' not in unscoped
    scoped = token_body(keystone.rescope(_token_id(response), 'dteam'))
    assert role_names(scoped) == MEMBER_ROLES
    direct = token_body(keystone.voms_login(proxy, project='dteam'))
    assert direct['user']['id'] == unscoped['user']['id']
    # capped at the proxy's end (12 h) although Keystone gives 24 h
    assert _expiry(unscoped) <= _expiry(direct) + datetime.timedelta(
        seconds=1)


def test_forged_proxy_on_mapped_is_refused(keystone, pki):
    user = pki.new_user('Federated Forger')
    rogue = pki.add_voms_server('dteam', 'rogue-fed.example.org', lsc=False)
    proxy = pki.make_proxy(user, fqans=['/dteam'], server=rogue)
    response = keystone.federation_login('egi.eu', 'mapped',
                                         proxy_file=proxy)
    assert response.status_code == 401
    assert 'rogue-fed.example.org, which no LSC file' in error_message(
        response)


def test_proxy_on_an_identity_provider_without_proxies(keystone, pki):
    user = pki.new_user('Federated Misdirected')
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    # checkin takes access tokens only: the certificate is not looked at.
    response = keystone.federation_login('checkin', 'mapped',
                                         proxy_file=proxy)
    assert response.status_code == 401
    assert 'no access token was presented' in error_message(response)


def test_bearer_on_mapped_without_a_certificate(keystone, oidc_provider):
    token = oidc_provider.jwt_token(_sub(), AUDIENCE, entitlements=[MEMBER])
    body = token_body(keystone.federation_login('egi.eu', 'mapped',
                                                token=token))
    assert body['methods'] == ['mapped']
    response = keystone.federation_login('grid-only', 'mapped', token=token)
    assert response.status_code == 401
    assert 'no VOMS proxy was presented' in error_message(response)


# -- one person, one user -----------------------------------------------------

def test_same_person_same_user_on_every_path(keystone, oidc_provider,
                                             assignments):
    sub = _sub()
    token = oidc_provider.jwt_token(sub, AUDIENCE, entitlements=[MEMBER])
    users = {
        token_body(keystone.oidc_login(token))['user']['id'],
        token_body(keystone.oidc_login(token, bearer=True))['user']['id'],
        token_body(keystone.federation_login(
            'egi.eu', 'openid', token=token))['user']['id'],
        token_body(keystone.federation_login(
            'egi.eu', 'mapped', token=token))['user']['id'],
        token_body(keystone.federation_login(
            'voms-auth', 'oidc', token=token))['user']['id'],
    }
    assert len(users) == 1
    assert assignments(users.pop()) == {('dteam', 'member')}


# -- Keystone's own federation beside voms-auth -------------------------------

OTHER_IDP = 'other-community'
OTHER_ISSUER = 'https://other-community.example/oidc'


@pytest.fixture(scope='module')
def keystone_mapped_idp(keystone):
    """An identity provider served by Keystone's own Mapped plugin: remote
    id checked on ``OIDC-iss``, users from ``OIDC-sub`` into a group with
    a role on project ``other-project`` (as mod_auth_openidc would pass
    the claims)."""
    admin = keystone.admin_token()

    def call(method, path, json):
        response = keystone.api(method, path, token=admin, json=json)
        assert response.status_code in (200, 201, 204), \
            response.get_data(as_text=True)
        return response.get_json()

    project = call('POST', '/v3/projects', {'project': {
        'name': 'other-project', 'domain_id': 'default'}})['project']
    group = call('POST', '/v3/groups', {'group': {
        'name': 'other-community-users', 'domain_id': 'default'}})['group']
    role = keystone.get('/v3/roles', token=admin, name='member').get_json()
    call('PUT', '/v3/projects/%s/groups/%s/roles/%s' % (
        project['id'], group['id'], role['roles'][0]['id']), None)
    call('PUT', '/v3/OS-FEDERATION/identity_providers/' + OTHER_IDP,
         {'identity_provider': {'enabled': True, 'domain_id': 'default',
                                'remote_ids': [OTHER_ISSUER]}})
    call('PUT', '/v3/OS-FEDERATION/mappings/other-community', {'mapping': {
        'rules': [{'local': [{'user': {'name': '{0}'}},
                             {'group': {'id': group['id']}}],
                   'remote': [{'type': 'OIDC-sub'}]}]}})
    # openid, and oidc: the name of voms-auth's own method, which a site
    # may have used as a protocol name for its own federation
    for protocol in ('openid', 'oidc'):
        call('PUT', '/v3/OS-FEDERATION/identity_providers/%s/protocols/%s'
             % (OTHER_IDP, protocol),
             {'protocol': {'mapping_id': 'other-community',
                           'remote_id_attribute': 'OIDC-iss'}})
    return project


def test_keystone_mapped_still_serves_another_identity_provider(
        keystone, keystone_mapped_idp):
    response = keystone.federation_login(
        OTHER_IDP, 'openid',
        environ={'OIDC-iss': OTHER_ISSUER, 'OIDC-sub': 'carol'})
    body = token_body(response)
    # Keystone's own federated token: the identity provider and groups
    # are in it, as Mapped puts them.
    federation = body['user']['OS-FEDERATION']
    assert federation['identity_provider']['id'] == OTHER_IDP
    assert federation['protocol']['id'] == 'openid'
    assert body['user']['name'] == 'carol'
    scoped = token_body(keystone.rescope(_token_id(response),
                                         'other-project'))
    assert scoped['project']['id'] == keystone_mapped_idp['id']
    assert 'member' in role_names(scoped)


def test_protocol_named_like_our_method_stays_keystones(keystone,
                                                       keystone_mapped_idp):
    response = keystone.federation_login(
        OTHER_IDP, 'oidc',
        environ={'OIDC-iss': OTHER_ISSUER, 'OIDC-sub': 'olivia'})
    body = token_body(response)
    assert body['user']['OS-FEDERATION']['protocol']['id'] == 'oidc'
    assert body['user']['name'] == 'olivia'


def test_keystone_mapped_keeps_its_own_checks(keystone, keystone_mapped_idp):
    response = keystone.federation_login(
        OTHER_IDP, 'openid',
        environ={'OIDC-iss': 'https://impostor.example', 'OIDC-sub': 'eve'})
    # Keystone's own refusal of an unlisted remote id (its 403, not a 401
    # of voms-auth's)
    assert response.status_code == 403


def test_mapped_claims_do_not_reach_voms_auth_idps(keystone,
                                                   keystone_mapped_idp):
    # Environment claims (what mod_auth_openidc would set) log nobody in
    # on an identity provider voms-auth serves: it wants a credential.
    response = keystone.federation_login(
        'egi.eu', 'openid',
        environ={'OIDC-iss': OTHER_ISSUER, 'OIDC-sub': 'carol'})
    assert response.status_code == 401
    assert 'no access token was presented' in error_message(response)


def test_user_of_keystones_mapping_linked_to_a_person(keystone,
                                                      keystone_mapped_idp,
                                                      oidc_provider):
    """Migration (doc/source/fedcloud.rst): a federated user the old
    Keystone mapping made is linked to the person, whose voms-auth login
    on the federation URL then is that user."""
    from voms_auth.keystone import manage

    old = token_body(keystone.federation_login(
        OTHER_IDP, 'openid',
        environ={'OIDC-iss': OTHER_ISSUER, 'OIDC-sub': 'migrating-dave'}))
    who = manage.person('oidc', oidc_provider.issuer, 'dave-sub')
    done, _ = manage.link(keystone.conf(), who, old['user']['id'],
                          apply=True)
    assert done
    token = oidc_provider.jwt_token('dave-sub', AUDIENCE,
                                    entitlements=[MEMBER])
    body = token_body(keystone.federation_login('egi.eu', 'openid',
                                                token=token))
    assert body['user']['id'] == old['user']['id']
