"""The one request -> identity path, with real proxies and a real trust
store. No Keystone here: :class:`GridAuthService` is plain WSGI + cores."""

import urllib.parse

import pytest
from oslo_config import cfg

from tests.support import keystone as local_keystone
from tests.support import pki as grid_pki
from voms_auth import conf as voms_conf
from voms_auth import errors
from voms_auth.keystone import service


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    return grid_pki.GridPKI(tmp_path_factory.mktemp('grid'))


def _conf(pki, **overrides):
    conf = cfg.ConfigOpts()
    voms_conf.register_opts(conf)
    conf([], project='voms-auth-test')
    values = {'ca_path': str(pki.ca_path), 'vomsdir': str(pki.vomsdir),
              'trust_reload_interval': 0, 'service_host': 'kh.example'}
    values.update(overrides)
    for key, value in values.items():
        conf.set_override(key, value, group='voms_auth')
    return conf


@pytest.fixture
def grid(pki):
    def _make(**overrides):
        return service.GridAuthService(_conf(pki, **overrides))

    return _make


def _environ(proxy, **extra):
    environ = {'REMOTE_ADDR': '192.0.2.10'}
    environ.update(local_keystone.mod_ssl_environ(proxy))
    environ.update(extra)
    return environ


def _header_environ(proxy, remote_addr):
    certs = local_keystone.pem_certificates(proxy.read_text())
    return {'REMOTE_ADDR': remote_addr, 'HTTP_X_SSL_CLIENT_CERT_CHAIN':
            urllib.parse.quote(''.join(certs))}


def test_valid_proxy_gives_its_identity(grid, pki):
    user = pki.new_user('Svc Valid')
    proxy = pki.make_proxy(user, fqans=['/dteam/ibergrid'])
    identity = grid().identify('voms', _environ(proxy), {})
    assert identity.subject == user.dn
    assert identity.issuer == user.ca_dn
    assert [m.group for m in identity.memberships] == ['/dteam/ibergrid']


def test_expired_proxy_is_refused_with_reason(grid, pki):
    user = pki.new_user('Svc Expired')
    proxy = pki.make_proxy(user, hours=1, pastproxy='2:00')
    with pytest.raises(errors.CredentialError, match='expired'):
        grid().identify('voms', _environ(proxy), {})


def test_no_certificate_is_refused_with_reason(grid):
    with pytest.raises(errors.CredentialError, match='no VOMS proxy'):
        grid().identify('voms', {'REMOTE_ADDR': '192.0.2.10'}, {})


def test_plain_client_certificate_is_refused(grid, pki):
    """A TLS client certificate that is no proxy proves no VO."""
    user = pki.new_user('Svc Plain Cert')
    environ = {'SSL_CLIENT_CERT': user.cert_path.read_text()}
    with pytest.raises(errors.CredentialError):
        grid().identify('voms', environ, {})


def test_certificate_header_ignored_from_untrusted_address(grid, pki):
    user = pki.new_user('Svc Header Untrusted')
    proxy = pki.make_proxy(user)
    environ = _header_environ(proxy, '192.0.2.10')
    with pytest.raises(errors.CredentialError, match='no VOMS proxy'):
        grid(trusted_frontends=['198.51.100.7']).identify(
            'voms', environ, {})


def test_certificate_header_ignored_when_no_frontend_is_trusted(grid, pki):
    user = pki.new_user('Svc Header Default')
    proxy = pki.make_proxy(user)
    with pytest.raises(errors.CredentialError, match='no VOMS proxy'):
        grid().identify('voms', _header_environ(proxy, '127.0.0.1'), {})


def test_certificate_header_read_from_trusted_frontend(grid, pki):
    user = pki.new_user('Svc Header Trusted')
    proxy = pki.make_proxy(user)
    identity = grid(trusted_frontends=['198.51.100.0/24']).identify(
        'voms', _header_environ(proxy, '198.51.100.7'), {})
    assert identity.subject == user.dn


def test_token_without_configured_issuers_is_a_configuration_error(grid):
    environ = {'HTTP_AUTHORIZATION': 'Bearer abc.def.ghi'}
    with pytest.raises(errors.ConfigurationError):
        grid().identify('oidc', environ, {})


def test_no_token_is_refused_with_reason(grid):
    with pytest.raises(errors.CredentialError, match='no access token'):
        grid().identify('oidc', {}, {})


def test_non_string_access_token_is_refused(grid):
    with pytest.raises(errors.CredentialError, match='must be a string'):
        grid().identify('oidc', {}, {'access_token': ['a', 'b']})


def test_revocation_is_seen_at_the_next_request_despite_the_cache(grid,
                                                                   pki):
    """One VOMS result cache, dropped when a CRL changes on disk."""
    user = pki.new_user('Svc Cached')
    proxy = pki.make_proxy(user)
    cached = grid(verification_cache_ttl=3600)
    assert cached.identify('voms', _environ(proxy), {}).subject == user.dn
    pki.revoke(user)
    with pytest.raises(errors.CredentialError, match='revoked'):
        cached.identify('voms', _environ(proxy), {})


def test_one_service_per_configuration(pki):
    service.reset()
    conf = _conf(pki)
    assert service.get_service(conf) is service.get_service(conf)
    assert service.get_service(_conf(pki)) is not service.get_service(conf)
    service.reset()
