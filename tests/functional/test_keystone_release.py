"""What the Keystone release under test does with tokens of our methods.

Keystone 27.1.0, 28.1.0, 29.1.0 and 30 classify auth methods as primary or
delegated with an allowlist that ``[auth] additional_primary_auth_methods``
extends: without ``voms,oidc`` there, our tokens cannot be re-scoped and
cannot create application credentials or trusts. Earlier releases (25.0.0,
26.x, 27.0.x, 28.0.x, 29.0.x) have neither the option nor the allowlist and
treat our tokens as primary with no setting. The tox environments
``functional-keystoneNN`` run this file against each release; exactly one of
the two behaviour tests applies to a release and the other says why not.
"""

import contextlib
import importlib.metadata
import itertools
import logging

import pytest

from tests.functional.conftest import (
    AUDIENCE,
    ENT,
    error_message,
    token_body,
)
from voms_auth.keystone import handlers

_names = itertools.count(1)

KEYSTONE = importlib.metadata.version('keystone')


def _release():
    return tuple(int(part) for part in KEYSTONE.split('.')[:2])


def _has_allowlist(conf):
    return 'additional_primary_auth_methods' in conf.auth


def test_docs_say_which_releases_have_the_allowlist(keystone):
    """The releases named in the docs and in handlers.is_primary_method
    are the ones with the option (a new release or backport shows here)."""
    major, minor = _release()
    documented = major >= 30 or (major in (27, 28, 29) and minor >= 1)
    assert _has_allowlist(keystone.conf()) == documented, KEYSTONE


@contextlib.contextmanager
def _without_our_primary_methods(conf):
    """``[auth] additional_primary_auth_methods`` as a site that did not
    set it has it (empty), for the duration of the block."""
    conf.set_override('additional_primary_auth_methods', [], group='auth')
    try:
        yield
    finally:
        conf.clear_override('additional_primary_auth_methods', group='auth')


def _rescope(keystone, token_id, project):
    return keystone.client().post('/v3/auth/tokens', json={'auth': {
        'identity': {'methods': ['token'], 'token': {'id': token_id}},
        'scope': keystone.project_scope(project)}})


def _create_app_credential(keystone, token):
    return keystone.api(
        'POST', '/v3/users/%s/application_credentials'
        % token.get_json()['token']['user']['id'],
        token=token.headers['X-Subject-Token'],
        json={'application_credential': {'name': 'rel-%d' % next(_names)}})


def _create_trust(keystone, token):
    body = token.get_json()['token']
    admin = keystone.get('/v3/users', name='admin').get_json()['users'][0]
    return keystone.api(
        'POST', '/v3/OS-TRUST/trusts',
        token=token.headers['X-Subject-Token'],
        json={'trust': {'trustor_user_id': body['user']['id'],
                        'trustee_user_id': admin['id'],
                        'project_id': body['project']['id'],
                        'impersonation': False,
                        'roles': [{'name': 'member'}]}})


def _logins(keystone, pki, oidc_provider):
    """A project-scoped and an unscoped token of each of our methods."""
    user = pki.new_user('Release User %d' % next(_names))
    proxy = pki.make_proxy(user, fqans=['/dteam', '/dteam/ibergrid'])
    access_token = oidc_provider.jwt_token(
        'release-%d' % next(_names), AUDIENCE,
        entitlements=[ENT + 'dteam:role=member#aai.egi.eu'])
    return {
        'voms': (keystone.voms_login(proxy, project='dteam'),
                 keystone.voms_login(proxy)),
        'oidc': (keystone.oidc_login(access_token, project='dteam'),
                 keystone.oidc_login(access_token)),
    }


def test_without_the_option_tokens_are_delegated(keystone, pki,
                                                 oidc_provider, caplog):
    """On a release with the allowlist, a site that did not list voms,oidc
    gets tokens that log in but cannot be re-scoped and cannot create
    application credentials or trusts (HTTP 403), and a warning in the log
    that names the option."""
    conf = keystone.conf()
    if not _has_allowlist(conf):
        pytest.skip('Keystone %s has no [auth] '
                    'additional_primary_auth_methods: it treats voms/oidc '
                    'tokens as primary (test_without_the_option_tokens_are_'
                    'primary covers it)' % KEYSTONE)
    with _without_our_primary_methods(conf):
        assert not handlers.is_primary_method('voms')
        handlers._WARNED.clear()
        with caplog.at_level(logging.WARNING):
            handlers.Voms()
        assert 'additional_primary_auth_methods' in caplog.text
        for method, (scoped, unscoped) in _logins(
                keystone, pki, oidc_provider).items():
            token_body(scoped)
            response = _rescope(keystone, unscoped.headers['X-Subject-Token'],
                                'dteam')
            assert response.status_code == 403, method
            assert 'delegated token' in error_message(response), method
            # Keystone hides this Forbidden's reason ("Cannot manage
            # application credentials with a token issued via delegation")
            # unless insecure_debug is on.
            response = _create_app_credential(keystone, scoped)
            assert response.status_code == 403, method
            response = _create_trust(keystone, scoped)
            assert response.status_code == 403, method
            assert 'Delegated tokens cannot manage trusts' in \
                error_message(response)


def test_without_the_option_tokens_are_primary(keystone, pki, oidc_provider):
    """On a release without the allowlist, nothing needs setting: tokens of
    our methods re-scope and create application credentials and trusts
    (that work) like password tokens."""
    conf = keystone.conf()
    if _has_allowlist(conf):
        pytest.skip('Keystone %s has [auth] additional_primary_auth_methods'
                    ' and needs voms,oidc there (test_without_the_option_'
                    'tokens_are_delegated covers it)' % KEYSTONE)
    assert handlers.is_primary_method('voms')
    assert handlers.is_primary_method('oidc')
    for method, (scoped, unscoped) in _logins(
            keystone, pki, oidc_provider).items():
        rescoped = token_body(_rescope(
            keystone, unscoped.headers['X-Subject-Token'], 'dteam'))
        assert rescoped['project']['name'] == 'dteam', method
        response = _create_app_credential(keystone, scoped)
        assert response.status_code == 201, response.get_data(as_text=True)
        credential = response.get_json()['application_credential']
        login = keystone.client().post('/v3/auth/tokens', json={'auth': {
            'identity': {'methods': ['application_credential'],
                         'application_credential': {
                             'id': credential['id'],
                             'secret': credential['secret']}}}})
        assert token_body(login)['project']['name'] == 'dteam', method
        response = _create_trust(keystone, scoped)
        assert response.status_code == 201, response.get_data(as_text=True)

