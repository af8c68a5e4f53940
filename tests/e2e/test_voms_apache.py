"""The ``voms`` method through Apache: a proxy is the TLS client cert."""

import importlib.util
import json
import ssl

import pytest
import requests

from tests.e2e.conftest import (
    MANAGER_ROLES,
    MAPPING,
    MEMBER_ROLES,
    error_message,
    pem_parts,
    role_names,
    tls12_login,
    token_body,
    voms_login,
)

MANAGER = '/dteam/ibergrid/Role=VM-Manager/Capability=NULL'


def test_proxy_gets_a_scoped_token(apache, pki, user):
    proxy = pki.make_proxy(user, fqans=[MANAGER, '/dteam'])
    token = token_body(voms_login(apache, proxy, project='dteam-ibergrid'))
    assert token['methods'] == ['voms']
    assert token['project']['name'] == 'dteam-ibergrid'
    assert role_names(token) == MANAGER_ROLES
    # The user is (issuer, subject) of the user certificate: the chain
    # behind the proxy reached voms-auth through mod_ssl's variables.
    assert token['user']['name'] == '%s (%s)' % (user.dn, user.ca_dn)


def test_token_from_apache_works_on_the_api(apache, pki, user):
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    response = voms_login(apache, proxy)
    assert response.status_code == 201, response.text
    projects = requests.get(
        apache.auth_url + '/auth/projects', verify=str(apache.ca_file),
        headers={'X-Auth-Token': response.headers['X-Subject-Token']},
        timeout=60)
    assert projects.status_code == 200, projects.text
    assert [p['name'] for p in projects.json()['projects']] == ['dteam']


def test_plain_member_gets_member_roles(apache, pki, user):
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    token = token_body(voms_login(apache, proxy, project='dteam'))
    assert role_names(token) == MEMBER_ROLES


def test_proxy_without_user_certificate_is_401_with_reason(
        apache, pki, user, tmp_path):
    certs, key = pem_parts(pki.make_proxy(user, fqans=['/dteam']))
    bare = tmp_path / 'bare-proxy.pem'
    bare.write_text(certs[0] + key)
    response = voms_login(apache, bare, project='dteam')
    assert response.status_code == 401
    assert 'send the whole proxy file, including the user certificate' in \
        error_message(response)


def test_expired_proxy_is_refused_in_the_tls_handshake(apache, pki, user):
    # mod_ssl verifies validity dates itself: the expired chain never
    # reaches Keystone; the client gets the TLS alert.
    proxy = pki.make_proxy(user, hours=1, pastproxy='2:00', fqans=['/dteam'])
    with pytest.raises(ssl.SSLError, match='CERTIFICATE_EXPIRED'):
        tls12_login(apache, proxy)
    with pytest.raises(requests.exceptions.SSLError):
        voms_login(apache, proxy, project='dteam')
    fresh = pki.make_proxy(user, fqans=['/dteam'])
    assert tls12_login(apache, fresh) == 201


def test_expired_attribute_certificate_is_401_with_reason(apache, pki,
                                                          user):
    proxy = pki.make_proxy(user, vomslife=1, pastac='3:00', fqans=['/dteam'])
    response = voms_login(apache, proxy, project='dteam')
    assert response.status_code == 401
    assert 'the AC of VO dteam expired at' in error_message(response)


def test_ac_from_a_server_no_lsc_lists_is_401(apache, pki, user):
    rogue = pki.add_voms_server('dteam', 'rogue.example.org', lsc=False)
    proxy = pki.make_proxy(user, fqans=[MANAGER], server=rogue)
    response = voms_login(apache, proxy, project='dteam-ibergrid')
    assert response.status_code == 401
    assert 'rogue.example.org, which no LSC file' in error_message(response)


def test_ac_grafted_from_another_holder_is_401(apache, pki, user):
    victim = pki.new_user('Victim', ca=pki.rsa_ca, org='rsa')
    stolen_from = pki.make_proxy(victim, fqans=[MANAGER])
    proxy = pki.delegate(user, ac_from=stolen_from)
    response = voms_login(apache, proxy, project='dteam-ibergrid')
    assert response.status_code == 401
    assert 'the AC was issued to another certificate' in \
        error_message(response)


def test_revoked_user_is_401_with_reason(apache, pki):
    # mod_ssl is given no CRLs; voms-auth reads <hash>.r0 itself.
    user = pki.new_user('Revoked E2E', ca=pki.rsa_ca, org='rsa')
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    assert voms_login(apache, proxy, project='dteam').status_code == 201
    pki.revoke(user)
    response = voms_login(apache, proxy, project='dteam')
    assert response.status_code == 401
    assert 'revoked' in error_message(response)


def test_user_of_an_untrusted_ca_is_refused_in_the_handshake(
        apache, tmp_path):
    from tests.support import apache as apache_harness
    from tests.support import pki as grid_pki

    elsewhere = grid_pki.GridPKI(tmp_path / 'other-grid')
    ca = apache_harness.add_rsa_ca(elsewhere, 'Example RSA CA', org='rsa')
    # Same CA name and user DN as the trusted ones, different keys.
    stranger = elsewhere.new_user('E2E Stranger', ca=ca, org='rsa')
    proxy = elsewhere.make_proxy(stranger, fqans=['/dteam'])
    with pytest.raises(ssl.SSLError, match='UNKNOWN_CA'):
        tls12_login(apache, proxy)
    with pytest.raises(requests.exceptions.SSLError):
        voms_login(apache, proxy, project='dteam')


def test_client_cert_header_from_a_client_is_ignored(apache, pki, user):
    # Without trusted_frontends, a chain in a header is never read.
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    response = requests.post(
        apache.auth_url + '/auth/tokens', verify=str(apache.ca_file),
        headers={'X-SSL-Client-Cert-Chain':
                 proxy.read_text().replace('\n', '%0A')},
        json={'auth': {'identity': {'methods': ['voms'], 'voms': {}}}},
        timeout=60)
    assert response.status_code == 401
    assert 'no VOMS proxy was presented' in error_message(response)


def test_password_login_without_client_certificate(apache, admin_token):
    # admin_token came from a password login over the same TLS vhost.
    response = requests.get(apache.auth_url + '/projects',
                            headers={'X-Auth-Token': admin_token},
                            verify=str(apache.ca_file), timeout=60)
    assert response.status_code == 200
    assert 'admin' in [p['name'] for p in response.json()['projects']]


def test_sha1_signed_proxy_is_refused_by_openssl(apache, pki):
    # A user of an ECDSA CA gets a proxy signed with SHA-1 from
    # voms-proxy-fake (and voms-proxy-init 2.1); OpenSSL 3 at its default
    # security level refuses to use it in TLS. IGTF CAs sign with RSA.
    user = pki.new_user('ECDSA CA User')
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    with pytest.raises(requests.exceptions.SSLError, match='MD_TOO_WEAK'):
        voms_login(apache, proxy, project='dteam')


def test_mod_ssl_without_gridsite_refuses_proxies(tmp_path, pki, user):
    # Why mod_gridsite is in the vhost: OpenSSL 3 dropped the switch that
    # let mod_ssl accept RFC 3820 proxies (verify error 40).
    from tests.support import apache as apache_harness
    from tests.support import keystone as local_keystone

    keystone = local_keystone.LocalKeystone(
        tmp_path / 'keystone',
        voms_auth={'ca_path': pki.ca_path, 'vomsdir': pki.vomsdir}).setup()
    server = apache_harness.ApacheKeystone(
        keystone, tmp_path / 'apache', ca_path=pki.ca_path, gridsite=False)
    server.start()
    try:
        proxy = pki.make_proxy(user, fqans=['/dteam'])
        with pytest.raises(ssl.SSLError):
            tls12_login(server, proxy)
        log = server.error_log.read_text()
        assert 'Error (40): proxy certificates not allowed' in log
    finally:
        server.close(remove=False)


def test_installed_wsgi_api_module_serves_keystone(tmp_path, pki, user):
    # The documented entry point: WSGIScriptAlias straight at the package's
    # wsgi_api.py (mod_wsgi reads `application` from the module dict).
    from tests.support import apache as apache_harness
    from tests.support import keystone as local_keystone

    mapping = tmp_path / 'mapping.json'
    mapping.write_text(json.dumps(MAPPING))
    keystone = local_keystone.LocalKeystone(
        tmp_path / 'keystone',
        voms_auth={'ca_path': pki.ca_path, 'vomsdir': pki.vomsdir,
                   'mapping_file': mapping}).setup()
    server = apache_harness.ApacheKeystone(
        keystone, tmp_path / 'apache', ca_path=pki.ca_path,
        # Its path, without importing it (importing builds Keystone).
        wsgi_script=importlib.util.find_spec(
            'voms_auth.keystone.wsgi_api').origin)
    server.start()
    try:
        proxy = pki.make_proxy(user, fqans=['/dteam'])
        token = token_body(voms_login(server, proxy, project='dteam'))
        assert token['project']['name'] == 'dteam'
    finally:
        server.close(remove=False)


def test_proxy_of_a_proxy_logs_in(apache, pki, user):
    # proxy <- proxy <- user <- CA. (With mod_gridsite loaded this passed
    # even with SSLVerifyDepth 0: the depth is not what limits chains;
    # voms-auth applies RFC 3820's path length rules.)
    first = pki.make_proxy(user, fqans=['/dteam'])
    second = pki.delegate(first)
    token = token_body(voms_login(apache, second, project='dteam'))
    assert token['user']['name'] == '%s (%s)' % (user.dn, user.ca_dn)


def test_proxy_signed_with_another_key_is_refused_in_the_handshake(
        apache, pki, user):
    # mod_gridsite lets proxies through, not bad signatures.
    other = pki.new_user('Other Signer', ca=pki.rsa_ca, org='rsa')
    forged = pki.delegate(user, sign_with=other)
    with pytest.raises(ssl.SSLError, match='DECRYPT_ERROR'):
        tls12_login(apache, forged)
    with pytest.raises(requests.exceptions.SSLError):
        voms_login(apache, forged, project='dteam')


def test_proxy_beyond_its_path_length_is_refused_in_the_handshake(
        apache, pki, user):
    first = pki.delegate(user, path_length=0)
    second = pki.delegate(first)
    with pytest.raises(ssl.SSLError, match='CERTIFICATE_UNKNOWN'):
        tls12_login(apache, second)
