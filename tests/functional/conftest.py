"""A real Keystone (PyPI, SQLite, fernet) with voms-auth, for the session.

Keystone runs in this process: its configuration is process-global, so one
instance serves every functional test. Tests use their own users (a fresh
certificate or ``sub`` each) so they do not see each other's state.
"""

import json
import os
import pathlib

import pytest

from tests.support import keystone as local_keystone
from tests.support import pki as grid_pki
from tests.support.oidc_provider import (
    OpenIDProvider,
    oidc_provider,  # noqa: F401
)

AUDIENCE = 'https://keystone.test.example'
SERVICE_HOST = 'keystone.test.example'
ENT = 'urn:mace:egi.eu:group:'

MAPPING = {
    'version': 1,
    'defaults': {'domain': 'Default', 'roles': ['member']},
    'rules': [
        {'description': 'every dteam member, proxy or token',
         'match': {'vo': 'dteam'},
         'grant': {'project': 'dteam', 'create': True}},
        {'description': 'the ibergrid group',
         'match': {'group': '/dteam/ibergrid'},
         'grant': {'project': 'dteam-ibergrid', 'create': True}},
        {'description': 'VM managers manage dteam (VOMS role)',
         'match': {'group': '/dteam', 'role': 'VM-Manager', 'kind': 'voms'},
         'grant': {'project': 'dteam', 'roles': ['manager']}},
        {'description': 'VM operators manage dteam (entitlement role)',
         'match': {'group': '/dteam', 'role': 'vm_operator',
                   'kind': 'oidc'},
         'grant': {'project': 'dteam', 'roles': ['manager']}},
        {'description': 'a project created at the first login into it',
         'match': {'group': '/dteam/fresh'},
         'grant': {'project': 'fresh-project', 'create': True}},
        {'description': 'a project that exists only if an admin made it',
         'match': {'group': '/dteam/precreated'},
         'grant': {'project': 'precreated-only'}},
    ],
}


#: Keystone identity providers voms-auth serves on the federation URLs:
#: egi.eu takes the JWT issuer's tokens and proxies (as at EGI sites),
#: checkin the opaque issuer's tokens, grid-only proxies only; one more
#: for each issuer that an admin disables in Keystone.
TESTOP_IDPS = ('egi.eu', 'testop-disabled')
CHECKIN_IDPS = ('checkin',)
PROXY_IDPS = ('egi.eu', 'grid-only')


@pytest.fixture(scope='session', autouse=True)
def _voms_auth_from_the_expected_install():
    """Under ``tox -e dist`` the suite must test the installed wheel:
    fail at once if ``voms_auth`` was imported from anywhere else."""
    expected = os.environ.get('VOMS_AUTH_EXPECT_INSTALLED')
    if expected:
        import voms_auth

        where = os.path.realpath(voms_auth.__file__)
        assert where.startswith(os.path.realpath(expected) + os.sep), where
        assert 'site-packages' in where, where


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    return grid_pki.GridPKI(tmp_path_factory.mktemp('grid'))


@pytest.fixture(scope='session')
def portal_robot(pki):
    """A robot certificate that the session's Keystone lists in
    ``pusp_robots_file`` (its per-user sub-proxies are distinct people)."""
    return pki.new_user('Robot: functional portal')


@pytest.fixture(scope='session')
def mapping_path(tmp_path_factory):
    path = tmp_path_factory.mktemp('mapping') / 'mapping.json'
    path.write_text(json.dumps(MAPPING, indent=2))
    return path


@pytest.fixture(scope='session')
def opaque_provider():
    """A second real provider, EGI Check-in style: opaque tokens whose
    claims come from introspection and userinfo (no audience)."""
    with OpenIDProvider() as provider:
        yield provider


@pytest.fixture(scope='session')
def keystone(tmp_path_factory, pki, mapping_path, oidc_provider,  # noqa: F811
             opaque_provider, portal_robot):
    directory = tmp_path_factory.mktemp('keystone')
    robots = directory / 'pusp-robots'
    robots.write_text('"%s" "%s"\n' % (portal_robot.dn, portal_robot.ca_dn))
    instance = local_keystone.LocalKeystone(
        directory,
        voms_auth={
            'ca_path': pki.ca_path,
            'vomsdir': pki.vomsdir,
            'mapping_file': mapping_path,
            'mapping_reload_interval': 0,
            'trust_reload_interval': 0,
            'service_host': SERVICE_HOST,
            'verification_cache_ttl': 0,
            'oidc_leeway': 0,
            'pusp_robots_file': robots,
            'proxy_identity_providers': ','.join(PROXY_IDPS),
        },
        issuers={'testop': {
            'issuer': oidc_provider.issuer,
            'audience': AUDIENCE,
            'client_id': oidc_provider.client_id,
            'client_secret': oidc_provider.client_secret,
            'identity_providers': ','.join(TESTOP_IDPS),
        }, 'checkin': {
            'identity_providers': ','.join(CHECKIN_IDPS),
            'issuer': opaque_provider.issuer,
            'token_type': 'opaque',
            'accept_any_audience': 'true',
            'use_userinfo': 'true',
            'client_id': opaque_provider.client_id,
            'client_secret': opaque_provider.client_secret,
        }},
        # voms-auth serves Keystone's federation URLs of the identity
        # providers above (Keystone's Mapped the others).
        methods=local_keystone.federation_methods(),
        auth_plugins=local_keystone.FEDERATION_PLUGINS,
        # 24 h tokens, so that capping at the credential shows; CADF events
        # for successful logins too (Keystone opts out of them by default).
        extra='[token]\nexpiration = 86400\n'
              '[DEFAULT]\n'
              'notification_opt_out = identity.authenticate.pending\n'
              '[oslo_messaging_notifications]\ndriver = test\n',
    )
    return instance.setup().start()


@pytest.fixture
def set_mapping(keystone, mapping_path):
    """Replace the mapping for one test; the session mapping comes back.

    Keystone loads a changed mapping in the background (requests keep the
    last good one meanwhile); each change here waits until it is loaded.
    """
    from voms_auth.keystone import service

    original = mapping_path.read_text()
    mapping_file = service.get_service(keystone.conf()).mapping_file()

    def _write(text):
        mapping_path.write_text(text)
        mapping_file.current()  # notices the change, starts the reload
        assert mapping_file.wait(30), 'the mapping did not reload'

    yield lambda document: _write(json.dumps(document))
    _write(original)


def token_body(response):
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()['token']


def error_message(response):
    """The reason of a Keystone-style JSON error response."""
    return response.get_json()['error']['message']


def role_names(token):
    """Role names in a token, implied roles included (Keystone's bootstrap
    makes admin imply member and member imply reader)."""
    return sorted(r['name'] for r in token.get('roles', []))


MEMBER_ROLES = ['member', 'reader']
MANAGER_ROLES = ['manager', 'member', 'reader']


@pytest.fixture
def assignments(keystone):
    """``{(project name, role name)}`` a user holds, directly or through
    groups (effective, implied roles not expanded), via the API."""

    def _get(user_id):
        response = keystone.get('/v3/role_assignments',
                                include_names='true', effective='true',
                                **{'user.id': user_id})
        assert response.status_code == 200, response.get_data(as_text=True)
        return {(a['scope']['project']['name'], a['role']['name'])
                for a in response.get_json()['role_assignments']
                if 'project' in a['scope']
                and 'prior_role' not in a.get('links', {})}

    return _get


def read_proxy(path):
    return pathlib.Path(path).read_text()
