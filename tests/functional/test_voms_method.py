"""The ``voms`` auth method against a real Keystone with real proxies."""

import datetime
import itertools

from tests.functional.conftest import (
    MANAGER_ROLES,
    MEMBER_ROLES,
    error_message,
    role_names,
    token_body,
)

_names = itertools.count(1)


def _user(pki, prefix='Voms User'):
    return pki.new_user('%s %d' % (prefix, next(_names)))


def _expiry(token):
    return datetime.datetime.fromisoformat(
        token['expires_at'].replace('Z', '+00:00'))


def test_scoped_token_for_mapped_project(keystone, pki):
    user = _user(pki)
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    token = token_body(keystone.voms_login(proxy, project='dteam'))
    assert token['project']['name'] == 'dteam'
    assert role_names(token) == MEMBER_ROLES
    assert token['methods'] == ['voms']
    assert token['user']['name'].startswith(user.dn + ' (')
    assert token['user']['domain']['name'] == 'Default'


def test_unscoped_token_lists_mapped_projects(keystone, pki):
    user = _user(pki)
    proxy = pki.make_proxy(user, fqans=['/dteam/ibergrid', '/dteam'])
    response = keystone.voms_login(proxy)
    token = token_body(response)
    assert 'project' not in token
    projects = keystone.get('/v3/auth/projects',
                            token=response.headers['X-Subject-Token'])
    assert projects.status_code == 200
    names = sorted(p['name'] for p in projects.get_json()['projects'])
    assert names == ['dteam', 'dteam-ibergrid']


def test_roles_follow_the_voms_role(keystone, pki, assignments):
    user = _user(pki)
    manager = pki.make_proxy(
        user, fqans=['/dteam/Role=VM-Manager/Capability=NULL'])
    token = token_body(keystone.voms_login(manager, project='dteam'))
    assert role_names(token) == MANAGER_ROLES
    user_id = token['user']['id']
    assert assignments(user_id) == {('dteam', 'manager'), ('dteam', 'member')}

    plain = pki.make_proxy(user, fqans=['/dteam'])
    token = token_body(keystone.voms_login(plain, project='dteam'))
    assert token['user']['id'] == user_id
    assert role_names(token) == MEMBER_ROLES
    assert assignments(user_id) == {('dteam', 'member')}


def test_unmapped_project_is_refused_with_reason(keystone, pki):
    user = _user(pki)
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    response = keystone.voms_login(proxy, project='admin')
    assert response.status_code == 401
    assert 'project admin is not among the projects mapped' in \
        error_message(response)


def test_no_matching_rule_is_refused_with_reason(keystone, pki):
    server = pki.add_voms_server('ops', 'voms-ops.example.org')
    user = _user(pki)
    proxy = pki.make_proxy(user, vo='ops', fqans=['/ops'], server=server)
    response = keystone.voms_login(proxy)
    assert response.status_code == 401
    assert 'no rule of the mapping grants access' in error_message(response)
    assert '/ops' in error_message(response)


def test_expired_proxy_is_refused(keystone, pki):
    user = _user(pki)
    proxy = pki.make_proxy(user, hours=1, pastproxy='2:00',
                           fqans=['/dteam'])
    response = keystone.voms_login(proxy, project='dteam')
    assert response.status_code == 401
    assert 'expired' in error_message(response).lower()


def test_expired_ac_is_refused(keystone, pki):
    user = _user(pki)
    proxy = pki.make_proxy(user, vomslife=1, pastac='3:00', fqans=['/dteam'])
    response = keystone.voms_login(proxy, project='dteam')
    assert response.status_code == 401
    assert 'attribute certificate' in error_message(response).lower() or \
        'ac ' in error_message(response).lower()


def test_revoked_user_is_refused(keystone, pki):
    user = _user(pki, 'Revoked User')
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    assert keystone.voms_login(proxy, project='dteam').status_code == 201
    pki.revoke(user)
    response = keystone.voms_login(proxy, project='dteam')
    assert response.status_code == 401
    assert 'revoked' in error_message(response).lower()


def test_untrusted_ca_is_refused(keystone, pki):
    user = pki.new_user('Untrusted User', ca=pki.untrusted_ca, org='evil')
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    response = keystone.voms_login(proxy, project='dteam')
    assert response.status_code == 401
    assert error_message(response)
    # An anonymous client learns no server paths; the log keeps them.
    assert str(pki.ca_path) not in error_message(response)
    log = (keystone.directory / 'keystone.log').read_text()
    assert str(pki.ca_path) in log


def test_forged_ac_from_unlisted_server_is_refused(keystone, pki):
    rogue = pki.add_voms_server('dteam', 'rogue.example.org', lsc=False)
    user = _user(pki)
    proxy = pki.make_proxy(user, fqans=['/dteam/Role=VM-Manager'],
                           server=rogue)
    response = keystone.voms_login(proxy, project='dteam')
    assert response.status_code == 401
    assert 'rogue.example.org' in error_message(response)
    assert str(pki.vomsdir) not in error_message(response)


def test_garbage_client_certificate_is_401_not_500(keystone):
    response = keystone.client().post(
        '/v3/auth/tokens',
        json={'auth': {'identity': {'methods': ['voms'], 'voms': {}}}},
        environ_overrides={'SSL_CLIENT_CERT': '-----BEGIN CERTIFICATE-----'
                           '\nnot base64\n-----END CERTIFICATE-----\n'})
    assert response.status_code == 401
    assert error_message(response)


def test_no_client_certificate_is_refused_with_reason(keystone):
    response = keystone.client().post(
        '/v3/auth/tokens',
        json={'auth': {'identity': {'methods': ['voms'], 'voms': {}}}})
    assert response.status_code == 401
    assert 'no VOMS proxy was presented' in error_message(response)


def test_same_dn_from_another_ca_is_another_user(keystone, pki):
    user = _user(pki, 'Twin')
    twin = pki.same_dn_user(user)
    assert twin.dn == user.dn and twin.ca_dn != user.ca_dn
    first = token_body(keystone.voms_login(
        pki.make_proxy(user, fqans=['/dteam']), project='dteam'))
    second = token_body(keystone.voms_login(
        pki.make_proxy(twin, fqans=['/dteam']), project='dteam'))
    assert first['user']['id'] != second['user']['id']
    again = token_body(keystone.voms_login(
        pki.make_proxy(user, fqans=['/dteam']), project='dteam'))
    assert again['user']['id'] == first['user']['id']


def test_token_expiry_is_capped_at_the_proxy(keystone, pki):
    user = _user(pki)
    proxy = pki.make_proxy(user, hours=2, fqans=['/dteam'])
    token = token_body(keystone.voms_login(proxy, project='dteam'))
    now = datetime.datetime.now(datetime.timezone.utc)
    # Keystone is configured for 24 h tokens; the proxy lives 2 h.
    assert _expiry(token) <= now + datetime.timedelta(hours=2, minutes=1)
    assert _expiry(token) >= now + datetime.timedelta(hours=1, minutes=58)


def test_token_expiry_is_capped_at_the_ac(keystone, pki):
    user = _user(pki)
    proxy = pki.make_proxy(user, hours=12, vomslife=1, fqans=['/dteam'])
    token = token_body(keystone.voms_login(proxy, project='dteam'))
    now = datetime.datetime.now(datetime.timezone.utc)
    assert _expiry(token) <= now + datetime.timedelta(hours=1, minutes=1)


def test_proxy_of_a_proxy_logs_in(keystone, pki):
    user = _user(pki)
    first = pki.make_proxy(user, fqans=['/dteam'])
    second = pki.delegate(first)
    token = token_body(keystone.voms_login(second, project='dteam'))
    assert token['project']['name'] == 'dteam'
