"""Keystone's WebSSO URLs served by voms-auth, in process.

What mod_auth_openidc leaves in the WSGI environ for a session it
authenticated (``OIDC_access_token``) is given here as ``environ_overrides``;
the browser test (``tox -e websso``) runs the real module. Request headers
never count as that variable.
"""

import html
import re
import sys

import pytest

from tests.functional.conftest import AUDIENCE, ENT

DASHBOARD = 'https://dashboard.test.example/auth/websso/'
IDP_URL = ('/v3/auth/OS-FEDERATION/identity_providers/egi.eu/protocols/'
           'openid/websso')
MEMBER = ENT + 'dteam:role=member#aai.egi.eu'
OUTSIDER = ENT + 'atlas:role=member#aai.egi.eu'


@pytest.fixture
def websso(keystone):
    """Keystone trusting :data:`DASHBOARD`, with its callback template."""
    conf = keystone.conf()
    conf.set_override('trusted_dashboard', [DASHBOARD], group='federation')
    conf.set_override('sso_callback_template',
                      sys.prefix + '/etc/keystone/sso_callback_template.html',
                      group='federation')
    yield keystone
    conf.clear_override('trusted_dashboard', group='federation')
    conf.clear_override('sso_callback_template', group='federation')


def _get(keystone, token=None, headers=None, origin=DASHBOARD):
    environ = {'OIDC_access_token': token} if token else {}
    return keystone.client().get(
        IDP_URL, query_string={'origin': origin}, headers=headers or {},
        environ_overrides=environ)


def test_token_from_mod_auth_openidc_is_posted_to_the_dashboard(
        websso, oidc_provider):
    access = oidc_provider.jwt_token('websso-ok@op', AUDIENCE,
                                     entitlements=[MEMBER])
    response = _get(websso, access)
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    assert 'action="%s"' % DASHBOARD in page
    token = html.unescape(re.search(r'name="token" id="token" value="([^"]+)"',
                                    page).group(1))
    # validated by its own subject (Keystone 25-29's policy lets a
    # project-scoped admin token validate no other token)
    checked = websso.client().get(
        '/v3/auth/tokens', headers={'X-Auth-Token': token,
                                    'X-Subject-Token': token})
    assert checked.status_code == 200, checked.get_data(as_text=True)
    body = checked.get_json()['token']
    assert body['methods'] == ['openid']
    assert body['user']['name'] == 'websso-ok@op (%s)' % oidc_provider.issuer


@pytest.mark.parametrize('header', ['OIDC-access-token', 'OIDC_access_token',
                                    'Oidc-Access-Token'])
def test_a_header_named_like_the_variable_is_not_read(websso, oidc_provider,
                                                      header):
    access = oidc_provider.jwt_token('websso-forger@op', AUDIENCE,
                                     entitlements=[MEMBER])
    response = _get(websso, headers={header: access,
                                     'OIDC_CLAIM_sub': 'websso-forger@op'})
    assert response.status_code == 401
    assert 'no access token was presented' in \
        response.get_json()['error']['message']


def test_refusal_is_a_page_for_browsers_and_json_for_programs(
        websso, oidc_provider):
    access = oidc_provider.jwt_token('websso-outsider@op', AUDIENCE,
                                     entitlements=[OUTSIDER])
    as_browser = _get(websso, access, headers={
        'Accept': 'text/html,application/xhtml+xml,application/xml;q=0.9,'
                  '*/*;q=0.8'})
    assert as_browser.status_code == 401
    assert as_browser.content_type.startswith('text/html')
    page = as_browser.get_data(as_text=True)
    assert '<h1>Sign-in refused</h1>' in page
    assert 'no rule of the mapping grants access to websso-outsider@op' in \
        page
    assert 'href="https://dashboard.test.example/auth/login/"' in page

    as_program = _get(websso, access, headers={'Accept': 'application/json'})
    assert as_program.status_code == 401
    assert 'no rule of the mapping grants access' in \
        as_program.get_json()['error']['message']


def test_refusal_page_links_only_to_a_trusted_dashboard(websso,
                                                       oidc_provider):
    access = oidc_provider.jwt_token('websso-elsewhere@op', AUDIENCE,
                                     entitlements=[MEMBER])
    response = _get(websso, access, headers={'Accept': 'text/html'},
                    origin='https://evil.example/auth/websso/')
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert 'Sign-in refused' in page
    assert 'evil.example' not in page
    assert 'id="back"' not in page
