"""A person signs in to Horizon through Keystone's WebSSO, in Chromium.

Horizon -> Keystone's websso URL for identity provider ``egi.eu``
(``WEBSSO_IDP_MAPPING``) -> mod_auth_openidc -> the provider's login and
consent pages -> back to Keystone, where voms-auth's ``openid`` handler
verifies the access token mod_auth_openidc obtained and maps the person
-> Keystone posts the token to Horizon -> Horizon's Identity > Projects.
"""

import itertools
import re

import requests

from tests.e2e.conftest import AUDIENCE, login_body, token_body
from tests.support import horizon as horizon_harness
from tests.websso.conftest import IDP_ID, OPERATOR, OUTSIDER, PROTOCOL

PASSWORD = 'correct horse battery staple'  # noqa: S105 - test person
_people = itertools.count(1)


def new_person(site, entitlements):
    """Register a person at the provider; ``(username, subject)``."""
    number = next(_people)
    username = 'person%d' % number
    subject = 'websso-%d@op' % number
    claims = {'eduperson_entitlement': list(entitlements)}
    site.provider.add_person(username, PASSWORD, subject, userinfo=claims,
                             token_claims=claims)
    return username, subject


def sign_in(site, page, username, choice=None):
    """Horizon's login page -> OIDC choice -> "Sign in" -> the provider's
    login and consent pages. Returns once the browser left the provider."""
    horizon = site.horizon
    page.goto(horizon.url + '/auth/login/')
    value, label = ((horizon.CHOICE, horizon.CHOICE_LABEL) if choice is None
                    else choice)
    select = page.locator('#id_auth_type')
    assert select.locator('option[value="%s"]' % value).inner_text(
    ).strip() == label
    select.select_option(value)
    page.get_by_role('button', name='Sign In').click()
    page.wait_for_url(site.provider.issuer + '/interaction/**')
    page.fill('#username', username)
    page.fill('#password', PASSWORD)
    page.click('#sign-in')
    page.wait_for_url(site.provider.issuer + '/interaction/**')
    page.click('#consent')


def current_project(page):
    return page.locator('.context-project').first.inner_text().strip()


def switch_project(page, name):
    """Pick ``name`` in Horizon's project selector (the header drop-down)."""
    page.locator('a.dropdown-toggle:has(.context-project)').click()
    page.locator('.context-selection a:has(.dropdown-title)').filter(
        has_text=re.compile(r'^\s*%s\s*$' % re.escape(name))).click()
    page.wait_for_load_state()
    assert current_project(page) == name


def role_names_on_page(site, page):
    """The roles Horizon holds for the current project, as its application
    credential form offers them."""
    page.goto(site.horizon.url + '/identity/application_credentials/create/')
    options = page.locator('#id_roles option').all_inner_texts()
    return sorted(option.strip() for option in options)


def test_person_lands_in_the_mapped_projects_with_the_mapped_roles(
        site, page, shoot):
    username, subject = new_person(site, [OPERATOR])
    sign_in(site, page, username)
    page.wait_for_url(site.horizon.url + '/identity/**')

    # Horizon's header names the person (voms-auth's user name) and the
    # project selector a mapped project; Identity > Projects lists exactly
    # the mapped ones.
    assert page.locator('.user-menu .user-name').inner_text().strip() == \
        '%s (%s)' % (subject, site.provider.issuer)
    assert current_project(page) in ('dteam', 'dteam-ibergrid')
    names = page.locator('#tenants tbody tr[data-display]').evaluate_all(
        'rows => rows.map(row => row.dataset.display)')
    assert sorted(names) == ['dteam', 'dteam-ibergrid']
    shoot(page, 'horizon-projects')

    # The mapped roles, project by project.
    page.goto(site.horizon.url + '/identity/')
    switch_project(page, 'dteam-ibergrid')
    assert role_names_on_page(site, page) == ['manager', 'member', 'reader']
    switch_project(page, 'dteam')
    assert role_names_on_page(site, page) == ['member', 'reader']


def test_person_the_mapping_refuses_reads_why(site, page, shoot):
    username, subject = new_person(site, [OUTSIDER])
    responses = []
    page.on('response', lambda r: responses.append(r)
            if '/websso' in r.url and r.request.method == 'GET' else None)
    sign_in(site, page, username)
    page.wait_for_url(re.compile(r'.*/protocols/%s/websso\?origin=.*'
                                 % PROTOCOL))
    page.wait_for_load_state()
    final = [r for r in responses if r.url == page.url]
    assert final and final[-1].status == 401, [
        (r.url, r.status) for r in responses]
    # voms-auth's page, not Keystone's raw JSON: the reason, and the way
    # back to the dashboard the person came from.
    assert page.locator('h1').inner_text() == 'Sign-in refused'
    reason = page.locator('#reason').inner_text()
    assert 'no rule of the mapping grants access to %s' % subject in reason
    assert OUTSIDER in reason
    assert 'Traceback' not in page.content()
    shoot(page, 'refused-person')
    # Nothing was provisioned for the person.
    assert not users_named(site, '%s (%s)' % (subject,
                                             site.provider.issuer))
    page.click('#back')
    page.wait_for_url(site.horizon.url + '/auth/login/')

    # An origin Keystone does not trust is refused too (Keystone keeps
    # that reason to its log), and the page links to no such place.
    response = page.goto(
        site.apache.url + '/v3/auth/OS-FEDERATION/identity_providers/'
        '%s/protocols/%s/websso?origin=https://elsewhere.example/'
        'auth/websso/' % (IDP_ID, PROTOCOL))
    assert response.status == 401
    assert page.locator('#reason').inner_text()
    assert page.locator('#back').count() == 0


def test_same_person_same_user_on_every_path(site, page, admin_token):
    """Horizon (WebSSO), the ``oidc`` method on /v3/auth/tokens and the
    federation URL give one Keystone user with one set of roles."""
    username, subject = new_person(site, [OPERATOR])
    sign_in(site, page, username)
    page.wait_for_url(site.horizon.url + '/identity/**')
    user_name = '%s (%s)' % (subject, site.provider.issuer)
    users = users_named(site, user_name)
    assert len(users) == 1, users
    browser_user = users[0]['id']

    access = site.provider.jwt_token(subject, AUDIENCE,
                                     entitlements=[OPERATOR])
    apache = site.apache
    oidc = token_body(requests.post(
        apache.auth_url + '/auth/tokens', verify=str(apache.ca_file),
        json=login_body('oidc', {'access_token': access}, 'dteam-ibergrid'),
        timeout=60))
    federation = token_body(requests.post(
        '%s/OS-FEDERATION/identity_providers/%s/protocols/%s/auth'
        % (apache.auth_url, IDP_ID, PROTOCOL),
        headers={'Authorization': 'Bearer %s' % access},
        verify=str(apache.ca_file), timeout=60))
    assert oidc['user']['id'] == federation['user']['id'] == browser_user
    assert users_named(site, user_name) == users  # no second account
    # One set of roles: what Keystone reports for the user is what the
    # browser was shown.
    assignments = requests.get(
        apache.auth_url + '/role_assignments',
        params={'user.id': browser_user, 'effective': '',
                'include_names': ''},
        headers={'X-Auth-Token': admin_token},
        verify=str(apache.ca_file), timeout=60).json()['role_assignments']
    held = sorted({(a['scope']['project']['name'], a['role']['name'])
                   for a in assignments})
    assert held == [('dteam', 'member'), ('dteam', 'reader'),
                    ('dteam-ibergrid', 'manager'),
                    ('dteam-ibergrid', 'member'),
                    ('dteam-ibergrid', 'reader')]
    page.goto(site.horizon.url + '/identity/')
    switch_project(page, 'dteam-ibergrid')
    assert role_names_on_page(site, page) == sorted(
        role for project, role in held if project == 'dteam-ibergrid')


def users_named(site, name):
    apache = site.apache
    response = requests.get(
        apache.auth_url + '/users', params={'name': name},
        headers={'X-Auth-Token': site.admin_token},
        verify=str(apache.ca_file), timeout=60)
    assert response.status_code == 200, response.text
    return response.json()['users']


def test_websso_paths_are_behind_mod_auth_openidc(site):
    """Without a session, both websso URLs send the browser to the
    provider, whatever headers the client adds."""
    generic, _ = horizon_harness.websso_paths(PROTOCOL)
    forged = forged_headers(site)
    for path in (generic, '/v3/auth/OS-FEDERATION/identity_providers/%s/'
                          'protocols/%s/websso' % (IDP_ID, PROTOCOL)):
        response = requests.get(
            site.apache.url + path,
            params={'origin': site.horizon.websso_url}, headers=forged,
            verify=str(site.apache.ca_file), allow_redirects=False,
            timeout=60)
        assert response.status_code == 302, (path, response.text)
        assert response.headers['Location'].startswith(
            site.provider.issuer + '/auth?')
        assert 'token' not in response.text


def forged_headers(site):
    """Headers a client could send to pass for mod_auth_openidc's
    environ variables, carrying a valid access token and claims."""
    access = site.provider.jwt_token('forger@op', AUDIENCE,
                                     entitlements=[OPERATOR])
    return {'OIDC-access-token': access, 'OIDC_access_token': access,
            'OIDC-CLAIM-sub': 'forger@op', 'OIDC_CLAIM_sub': 'forger@op',
            'OIDC-CLAIM-iss': site.provider.issuer,
            'OIDC_CLAIM_iss': site.provider.issuer,
            'X-Remote-User': 'forger@op', '_access_token': access}


def test_access_token_in_request_headers_logs_nobody_in(site):
    """On the federation URL (not behind mod_auth_openidc) a token sent as
    a header named like mod_auth_openidc's environ variable is not read;
    the same token as Authorization: Bearer is (the control)."""
    url = ('%s/OS-FEDERATION/identity_providers/%s/protocols/%s/auth'
           % (site.apache.auth_url, IDP_ID, PROTOCOL))
    forged = forged_headers(site)
    refused = requests.post(url, headers=forged,
                            verify=str(site.apache.ca_file), timeout=60)
    assert refused.status_code == 401, refused.text
    assert 'no access token was presented' in \
        refused.json()['error']['message']
    accepted = requests.post(
        url, headers={'Authorization': 'Bearer %s'
                      % forged['OIDC-access-token']},
        verify=str(site.apache.ca_file), timeout=60)
    assert accepted.status_code == 201, accepted.text


def test_generic_websso_url_finds_the_identity_provider_by_issuer(
        site, page, admin_token):
    """Keystone's generic URL /v3/auth/OS-FEDERATION/websso/openid: Keystone
    finds the identity provider whose remote_ids hold the issuer
    mod_auth_openidc put in OIDC_CLAIM_iss ([openid] remote_id_attribute),
    then voms-auth serves it as on the per-IdP URL."""
    apache = site.apache
    federation = apache.auth_url + '/OS-FEDERATION'

    def put(path, body):
        response = requests.put(
            federation + path, json=body,
            headers={'X-Auth-Token': admin_token},
            verify=str(apache.ca_file), timeout=60)
        assert response.status_code in (201, 409), response.text

    # Keystone needs a mapping for a protocol; voms-auth's mapping file
    # decides for the identity providers it serves, so this one is unused.
    put('/mappings/unused-by-voms-auth', {'mapping': {'rules': [{
        'local': [{'user': {'name': '{0}'}}],
        'remote': [{'type': 'OIDC_CLAIM_sub'}]}]}})
    put('/identity_providers/%s' % IDP_ID, {'identity_provider': {
        'remote_ids': [site.provider.issuer], 'enabled': True}})
    put('/identity_providers/%s/protocols/%s' % (IDP_ID, PROTOCOL),
        {'protocol': {'mapping_id': 'unused-by-voms-auth'}})

    username, subject = new_person(site, [OPERATOR])
    visited = []
    page.on('request', lambda r: visited.append(r.url))
    sign_in(site, page, username,
            choice=(PROTOCOL, site.horizon.GENERIC_LABEL))
    page.wait_for_url(site.horizon.url + '/identity/**')
    generic = site.apache.url + horizon_harness.websso_paths(PROTOCOL)[0]
    assert any(url.startswith(generic + '?origin=') for url in visited)
    assert not any('/identity_providers/' in url for url in visited)
    names = page.locator('#tenants tbody tr[data-display]').evaluate_all(
        'rows => rows.map(row => row.dataset.display)')
    assert sorted(names) == ['dteam', 'dteam-ibergrid']
    assert page.locator('.user-menu .user-name').inner_text().strip() == \
        '%s (%s)' % (subject, site.provider.issuer)
