"""Recipe (b): Apache + mod_gridsite terminating TLS in front of Keystone
under uwsgi (the OpenStack-Ansible shape), ``mod_proxy_uwsgi`` in between.

mod_ssl exports the proxy chain (``SSL_CLIENT_CERT``,
``SSL_CLIENT_CERT_CHAIN_n``) into the request's variables and
``mod_proxy_uwsgi`` passes them to uwsgi as the WSGI environ, where
voms-auth reads them as under mod_wsgi. The chain makes the uwsgi request
block about 10 KB: uwsgi must run with ``--buffer-size 65535`` (its 4096-byte
default answers 500, "invalid request block size").
"""

import json
import time

import pytest
import requests

from tests.e2e.conftest import (
    AUDIENCE,
    MAPPING,
    MEMBER_ROLES,
    role_names,
    token_body,
    voms_login,
)
from tests.support import apache as apache_harness
from tests.support import keystone as local_keystone


def _uwsgi_keystone(directory, pki, oidc_provider, buffer_size):
    mapping = directory / 'mapping.json'
    mapping.write_text(json.dumps(MAPPING, indent=2))
    keystone = local_keystone.LocalKeystone(
        directory / 'keystone',
        voms_auth={'ca_path': pki.ca_path, 'vomsdir': pki.vomsdir,
                   'mapping_file': mapping, 'trust_reload_interval': 0,
                   'verification_cache_ttl': 0},
        issuers={'testop': {
            'issuer': oidc_provider.issuer, 'audience': AUDIENCE,
            'client_id': oidc_provider.client_id,
            'client_secret': oidc_provider.client_secret}},
    ).setup()
    return apache_harness.ApacheKeystone(
        keystone, directory / 'apache', ca_path=pki.ca_path,
        backend='uwsgi', uwsgi_buffer_size=buffer_size)


@pytest.fixture(scope='module')
def uwsgi_apache(tmp_path_factory, pki, oidc_provider):  # noqa: F811
    server = _uwsgi_keystone(tmp_path_factory.mktemp('uwsgi'), pki,
                             oidc_provider, buffer_size=65535)
    try:
        # uwsgi loads Keystone in each worker (lazy-apps) before the first
        # answer: slower than mod_wsgi's start on a loaded machine.
        server.start(timeout=300)
    except apache_harness.ApacheUnavailable as exc:
        pytest.fail('the uwsgi recipe cannot run here: %s' % exc)
    yield server
    server.close(remove=False)


def test_proxy_login_through_apache_and_uwsgi(uwsgi_apache, pki, user):
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    token = token_body(voms_login(uwsgi_apache, proxy, project='dteam'))
    assert token['methods'] == ['voms']
    assert token['project']['name'] == 'dteam'
    assert role_names(token) == MEMBER_ROLES
    # Served by uwsgi (its request log), not by an in-Apache WSGI module;
    # uwsgi writes the line after the answer has gone.
    log = _log_with(uwsgi_apache, 'POST /v3/auth/tokens')
    assert 'POST /v3/auth/tokens' in log
    assert 'invalid request block size' not in log


def _log_with(server, text, wait=20.0):
    """uwsgi's log once it holds ``text`` (or after ``wait`` seconds)."""
    deadline = time.monotonic() + wait
    while True:
        log = server.uwsgi_log.read_text()
        if text in log or time.monotonic() > deadline:
            return log
        time.sleep(0.2)


def test_oidc_bearer_login_through_apache_and_uwsgi(uwsgi_apache,
                                                    oidc_provider):
    token = oidc_provider.jwt_token(
        'uwsgi-user@test', AUDIENCE,
        entitlements=['urn:mace:egi.eu:group:dteam:role=member#aai.egi.eu'])
    response = requests.post(
        uwsgi_apache.auth_url + '/auth/tokens',
        json={'auth': {'identity': {'methods': ['oidc'], 'oidc': {}},
                       'scope': {'project': {'name': 'dteam',
                                             'domain': {'name': 'Default'}}}}},
        headers={'Authorization': 'Bearer %s' % token},
        verify=str(uwsgi_apache.ca_file), timeout=60)
    assert token_body(response)['project']['name'] == 'dteam'


def test_default_uwsgi_buffer_refuses_a_proxy_chain(tmp_path_factory, pki,
                                                    oidc_provider, user):
    """Why the recipe sets --buffer-size: with uwsgi's default (4096) the
    chain does not fit and the login is a 500."""
    server = _uwsgi_keystone(tmp_path_factory.mktemp('uwsgi-small'), pki,
                             oidc_provider, buffer_size=4096)
    server.start(timeout=300)
    try:
        response = voms_login(server, pki.make_proxy(user, fqans=['/dteam']),
                              project='dteam')
        # uwsgi drops the request; Apache's mod_proxy_uwsgi answers 500,
        # 502 or (when it then marks the back end failed) 503
        assert response.status_code in (500, 502, 503), response.text[:300]
        assert 'invalid request block size' in _log_with(
            server, 'invalid request block size')
    finally:
        server.close(remove=False)
