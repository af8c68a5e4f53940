"""Keystone with voms-auth behind a real Apache httpd, for the session.

Apache (mod_ssl + mod_gridsite + mod_wsgi for this Python) serves the
Keystone that ``LocalKeystone.setup()`` prepared, on 127.0.0.1 over TLS;
:class:`~tests.support.apache.ApacheKeystone` starts it here and stops
it at the end. Users come from a trusted RSA CA (see
:func:`~tests.support.apache.add_rsa_ca`: proxies of users of an
ECDSA CA are SHA-1-signed, which OpenSSL 3 refuses in TLS).
"""

import http.client
import itertools
import json
import os
import pathlib
import re
import ssl
import subprocess
import sys

import pytest
import requests

from tests.support import apache as apache_harness
from tests.support import keystone as local_keystone
from tests.support import pki as grid_pki
from tests.support.oidc_provider import (
    OpenIDProvider,
    oidc_provider,  # noqa: F401
)

AUDIENCE = 'https://keystone.e2e.example'
#: A second trusted issuer, whose identity provider is elsewhere.eu.
OTHER_ISSUER = 'https://elsewhere.example/oidc'
ENT = 'urn:mace:egi.eu:group:'

MAPPING = {
    'version': 1,
    'defaults': {'domain': 'Default', 'roles': ['member']},
    'rules': [
        {'description': 'every dteam member, proxy or token',
         'match': {'vo': 'dteam'},
         'grant': {'project': 'dteam', 'create': True}},
        {'description': 'VM managers manage dteam-ibergrid',
         'match': {'group': '/dteam/ibergrid', 'role': 'VM-Manager',
                   'kind': 'voms'},
         'grant': {'project': 'dteam-ibergrid', 'create': True,
                   'roles': ['member', 'manager']}},
        {'description': 'vm_operators (entitlements) likewise',
         'match': {'group': '/dteam/ibergrid', 'role': 'vm_operator',
                   'kind': 'oidc'},
         'grant': {'project': 'dteam-ibergrid', 'create': True,
                   'roles': ['member', 'manager']}},
        {'description': 'atlas members (test_vomsd: two-VO proxies)',
         'match': {'vo': 'atlas'},
         'grant': {'project': 'atlas', 'create': True}},
        {'description': 'dteam pilots (test_vomsd: a role removed in vomsd)',
         'match': {'group': '/dteam/ops', 'role': 'pilot', 'kind': 'voms'},
         'grant': {'project': 'dteam-pilots', 'create': True}},
    ],
}

MEMBER_ROLES = ['member', 'reader']
MANAGER_ROLES = ['manager', 'member', 'reader']

_names = itertools.count(1)


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    grid = grid_pki.GridPKI(tmp_path_factory.mktemp('grid'))
    grid.rsa_ca = apache_harness.add_rsa_ca(grid)
    return grid


@pytest.fixture(scope='session')
def portal_robot(pki):
    """A robot certificate of the RSA CA that Keystone lists in
    ``pusp_robots_file``: its per-user sub-proxies are people."""
    return pki.new_user('Robot: e2e portal', ca=pki.rsa_ca, org='rsa')


@pytest.fixture(scope='session')
def checkin_provider():
    """A second real provider, EGI Check-in style (opaque tokens, claims
    from introspection, no audience): the one keystoneauth1's stock
    plugins get tokens from (client credentials, password, device flow)."""
    with OpenIDProvider() as provider:
        yield provider


@pytest.fixture(scope='session')
def apache(tmp_path_factory, pki, oidc_provider,  # noqa: F811
           portal_robot, checkin_provider):
    directory = tmp_path_factory.mktemp('e2e')
    mapping = directory / 'mapping.json'
    mapping.write_text(json.dumps(MAPPING, indent=2))
    robots = directory / 'pusp-robots'
    robots.write_text('"%s" "%s"\n' % (portal_robot.dn, portal_robot.ca_dn))
    keystone = local_keystone.LocalKeystone(
        directory / 'keystone',
        voms_auth={
            'ca_path': pki.ca_path,
            'vomsdir': pki.vomsdir,
            'mapping_file': mapping,
            'trust_reload_interval': 0,
            'verification_cache_ttl': 0,
            'pusp_robots_file': robots,
            'proxy_identity_providers': 'egi.eu,grid-only',
        },
        issuers={'testop': {
            'issuer': oidc_provider.issuer,
            'audience': AUDIENCE,
            'client_id': oidc_provider.client_id,
            'client_secret': oidc_provider.client_secret,
            'identity_providers': 'egi.eu',
        }, 'checkin': {
            'issuer': checkin_provider.issuer,
            'token_type': 'opaque',
            'accept_any_audience': 'true',
            'client_id': checkin_provider.client_id,
            'client_secret': checkin_provider.client_secret,
            'identity_providers': 'egi.eu',
        }, 'elsewhere': {
            # never contacted: only its identity provider matters here
            'issuer': OTHER_ISSUER,
            'audience': AUDIENCE,
            'token_type': 'jwt',
            'identity_providers': 'elsewhere.eu',
        }},
        # Keystone's federation URLs, as an EGI FedCloud site has them.
        methods=local_keystone.federation_methods(),
        auth_plugins=local_keystone.FEDERATION_PLUGINS,
    ).setup()
    server = apache_harness.ApacheKeystone(
        keystone, directory / 'apache', ca_path=pki.ca_path)
    server.start()
    yield server
    server.close(remove=False)  # pytest keeps its last 3 tmp dirs: logs


@pytest.fixture
def user(pki):
    """A fresh user of the RSA CA (one Keystone user per test)."""
    return pki.new_user('E2E User %d' % next(_names), ca=pki.rsa_ca,
                        org='rsa')


def login_body(method, data, project=None, domain='Default'):
    auth = {'identity': {'methods': [method], method: data}}
    if project:
        auth['scope'] = {'project': {'name': project,
                                     'domain': {'name': domain}}}
    return {'auth': auth}


def voms_login(apache, proxy, project=None):
    """``POST /v3/auth/tokens`` with the proxy as TLS client cert."""
    return requests.post(apache.auth_url + '/auth/tokens',
                         json=login_body('voms', {}, project),
                         cert=str(proxy), verify=str(apache.ca_file),
                         timeout=60)


def tls12_login(apache, proxy, project='dteam'):
    """A voms login over TLS 1.2, where a client certificate the server
    refuses ends the handshake with a named alert (with TLS 1.3 the alert
    races the client's first read and may surface as a bare EOF).
    Returns the HTTP status; raises ``ssl.SSLError`` on refusal."""
    context = ssl.create_default_context(cafile=str(apache.ca_file))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(proxy))
    connection = http.client.HTTPSConnection(apache.host, apache.port,
                                             context=context, timeout=60)
    try:
        connection.request(
            'POST', '/v3/auth/tokens',
            body=json.dumps(login_body('voms', {}, project)),
            headers={'Content-Type': 'application/json'})
        return connection.getresponse().status
    finally:
        connection.close()


def token_body(response):
    assert response.status_code == 201, response.text
    return response.json()['token']


def error_message(response):
    return response.json()['error']['message']


def role_names(token):
    return sorted(r['name'] for r in token.get('roles', []))


def pem_parts(path):
    """``(certificates, key)`` PEM blocks of a proxy file."""
    text = pathlib.Path(path).read_text()
    certs = re.findall(r'-----BEGIN CERTIFICATE-----.*?'
                       r'-----END CERTIFICATE-----\n', text, re.S)
    key = re.search(r'-----BEGIN (?:RSA )?PRIVATE KEY-----.*?'
                    r'-----END (?:RSA )?PRIVATE KEY-----\n', text, re.S)
    return certs, key.group(0)


def openstack_command():
    """The ``openstack`` client installed next to this Python."""
    path = pathlib.Path(sys.executable).parent / 'openstack'
    assert path.exists(), 'python-openstackclient is not installed here'
    return str(path)


def run_openstack(apache, *args, env=None, auth=()):
    """Run the real ``openstack`` client; ``CompletedProcess``."""
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith('OS_') and key != 'X509_USER_PROXY'}
    environ.update(env or {})
    command = [openstack_command(), '--os-auth-url', apache.auth_url,
               '--os-cacert', str(apache.ca_file),
               '--os-identity-api-version', '3', *auth, *args]
    return subprocess.run(command, capture_output=True, text=True,
                          timeout=120, env=environ, check=False)


def project_id(apache, admin_token, name):
    """The id of project ``name``, asked of Keystone as admin."""
    response = requests.get(apache.auth_url + '/projects',
                            params={'name': name},
                            headers={'X-Auth-Token': admin_token},
                            verify=str(apache.ca_file), timeout=60)
    assert response.status_code == 200, response.text
    return response.json()['projects'][0]['id']


@pytest.fixture(scope='session')
def admin_token(apache):
    """An admin token from a password login (no client certificate)."""
    response = requests.post(
        apache.auth_url + '/auth/tokens', verify=str(apache.ca_file),
        json=login_body('password', {'user': {
            'name': 'admin', 'domain': {'id': 'default'},
            'password': local_keystone.ADMIN_PASSWORD}}, 'admin'),
        timeout=60)
    assert response.status_code == 201, response.text
    return response.headers['X-Subject-Token']
