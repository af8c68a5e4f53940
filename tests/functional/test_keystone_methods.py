"""Keystone's own methods keep working beside ours; audit events are sent."""

import itertools

from oslo_messaging.notify import _impl_test

from tests.functional.conftest import token_body

_names = itertools.count(1)


def test_password_method_still_works(keystone):
    token = token_body(keystone.password_login())
    assert token['methods'] == ['password']
    assert token['project']['name'] == 'admin'


def test_token_rescope_of_a_voms_token(keystone, pki):
    user = pki.new_user('Rescoper %d' % next(_names))
    proxy = pki.make_proxy(user, hours=3, fqans=['/dteam', '/dteam/ibergrid'])
    response = keystone.voms_login(proxy)
    unscoped = token_body(response)
    body = {'auth': {'identity': {'methods': ['token'], 'token': {
        'id': response.headers['X-Subject-Token']}},
        'scope': keystone.project_scope('dteam-ibergrid')}}
    scoped = token_body(keystone.client().post('/v3/auth/tokens', json=body))
    assert scoped['project']['name'] == 'dteam-ibergrid'
    assert scoped['user']['id'] == unscoped['user']['id']
    # A re-scoped token keeps the capped expiry of the original.
    assert scoped['expires_at'] == unscoped['expires_at']


def _authenticate_events():
    return [message for _, message, _, _ in _impl_test.NOTIFICATIONS
            if message.get('event_type') == 'identity.authenticate']


def test_cadf_events_for_success_and_failure(keystone, pki):
    user = pki.new_user('Audited %d' % next(_names))
    before = len(_authenticate_events())
    token_body(keystone.voms_login(pki.make_proxy(user, fqans=['/dteam'])))
    expired = pki.make_proxy(user, hours=1, pastproxy='2:00',
                             fqans=['/dteam'])
    assert keystone.voms_login(expired).status_code == 401
    events = _authenticate_events()[before:]
    outcomes = [event['payload']['outcome'] for event in events]
    assert 'success' in outcomes and 'failure' in outcomes


def test_password_login_presenting_an_expired_proxy_is_not_refused(
        keystone, pki):
    """What a request asks for decides: a password login from a client
    that happens to present an (expired) proxy is a password login."""
    from tests.support import keystone as local_keystone

    user = pki.new_user('Password Bystander')
    proxy = pki.make_proxy(user, hours=1, pastproxy='2:00')
    body = keystone._body(['password'], keystone.project_scope('admin'),
                          password={'user': {
                              'name': 'admin', 'domain': {'id': 'default'},
                              'password': local_keystone.ADMIN_PASSWORD}})
    response = keystone.client().post(
        '/v3/auth/tokens', json=body,
        environ_overrides=local_keystone.mod_ssl_environ(proxy))
    assert response.status_code == 201, response.get_data(as_text=True)
