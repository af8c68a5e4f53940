"""The keystoneauth1 plugins and their loaders (found by entry point)."""

import pytest
from keystoneauth1 import exceptions, loading

from tests.support import pki as grid_pki
from voms_auth.keystoneauth import plugins
from voms_auth.keystoneauth.proxyfile import ProxyFileError

AUTH_URL = 'https://keystone.example.org:5000/v3'


@pytest.fixture(scope='module')
def proxy(tmp_path_factory):
    pki = grid_pki.GridPKI(tmp_path_factory.mktemp('grid'))
    return pki.make_proxy(pki.new_user('Plugin User'), fqans=['/dteam'])


def test_voms_method_presents_the_proxy_file_as_client_cert(proxy):
    method = plugins.VomsMethod(x509_user_proxy=str(proxy))
    request_kwargs = {}
    name, data = method.get_auth_data(None, None, {}, request_kwargs)
    assert (name, data) == ('voms', {})
    assert request_kwargs == {'cert': str(proxy)}


def test_voms_method_refuses_a_missing_file_before_sending(tmp_path):
    method = plugins.VomsMethod(x509_user_proxy=str(tmp_path / 'none'))
    request_kwargs = {}
    with pytest.raises(ProxyFileError, match='no proxy file at'):
        method.get_auth_data(None, None, {}, request_kwargs)
    assert request_kwargs == {}


def test_voms_method_defaults_to_x509_user_proxy(monkeypatch, proxy):
    monkeypatch.setenv('X509_USER_PROXY', str(proxy))
    assert plugins.VomsMethod().x509_user_proxy == str(proxy)


def test_v3voms_carries_the_scope(proxy):
    plugin = plugins.V3Voms(AUTH_URL, x509_user_proxy=str(proxy),
                            project_name='dteam',
                            project_domain_name='Default')
    assert plugin.project_name == 'dteam'
    assert plugin.project_domain_name == 'Default'
    [method] = plugin.auth_methods
    assert method.x509_user_proxy == str(proxy)


def test_v3voms_rejects_unknown_arguments(proxy):
    with pytest.raises(TypeError, match='unexpected arguments: password'):
        plugins.V3Voms(AUTH_URL, x509_user_proxy=str(proxy),
                       password='x')


def test_access_token_method_sends_the_token_in_the_body():
    method = plugins.AccessTokenMethod(access_token=' abc.def.ghi ')
    headers = {}
    assert method.get_auth_data(None, None, headers, {}) == \
        ('oidc', {'access_token': 'abc.def.ghi'})
    assert headers == {}


@pytest.mark.parametrize('token', ['', '   ', None])
def test_access_token_is_required(token):
    with pytest.raises(exceptions.OptionError, match='access token is '
                       'required'):
        plugins.V3GridToken(AUTH_URL, access_token=token)


def test_v3voms_loader_by_entry_point(monkeypatch, proxy):
    monkeypatch.setenv('X509_USER_PROXY', str(proxy))
    loader = loading.get_plugin_loader('v3voms')
    options = {o.dest: o for o in loader.get_options()}
    assert options['x509_user_proxy'].default == str(proxy)
    assert 'project_name' in options and 'project_domain_name' in options
    plugin = loader.load_from_options(
        auth_url=AUTH_URL, x509_user_proxy=str(proxy),
        project_name='dteam', project_domain_name='Default')
    assert isinstance(plugin, plugins.V3Voms)


def test_v3gridtoken_loader_by_entry_point():
    loader = loading.get_plugin_loader('v3gridtoken')
    options = {o.dest: o for o in loader.get_options()}
    assert options['access_token'].secret
    assert options['access_token'].required
    with pytest.raises(exceptions.MissingRequiredOptions):
        loader.load_from_options(auth_url=AUTH_URL)
    plugin = loader.load_from_options(auth_url=AUTH_URL,
                                      access_token='tok')
    assert isinstance(plugin, plugins.V3GridToken)


def test_v3voms_with_an_identity_provider_uses_the_federation_url(proxy):
    loader = loading.get_plugin_loader('v3voms')
    options = {o.dest for o in loader.get_options()}
    assert {'identity_provider', 'protocol'} <= options  # EGI's names
    plugin = loader.load_from_options(
        auth_url=AUTH_URL, x509_user_proxy=str(proxy),
        identity_provider='egi.eu', project_name='dteam',
        project_domain_name='Default')
    assert isinstance(plugin, plugins.V3VomsFederation)
    assert plugin.federated_token_url == (
        AUTH_URL + '/OS-FEDERATION/identity_providers/egi.eu/protocols/'
        'mapped/auth')
    assert plugin.project_name == 'dteam'
    other = loader.load_from_options(
        auth_url=AUTH_URL, x509_user_proxy=str(proxy),
        identity_provider='egi.eu', protocol='voms')
    assert other.federated_token_url.endswith('/protocols/voms/auth')


def test_v3voms_protocol_without_identity_provider_is_refused(proxy):
    loader = loading.get_plugin_loader('v3voms')
    with pytest.raises(exceptions.OptionError,
                       match='--os-protocol mapped needs '
                             '--os-identity-provider'):
        loader.load_from_options(auth_url=AUTH_URL,
                                 x509_user_proxy=str(proxy),
                                 protocol='mapped')


def test_v3voms_federation_checks_the_proxy_before_connecting(tmp_path):
    plugin = plugins.V3VomsFederation(
        AUTH_URL, 'egi.eu', x509_user_proxy=str(tmp_path / 'none'))
    with pytest.raises(ProxyFileError, match='no proxy file at'):
        plugin.get_unscoped_auth_ref(session=None)  # never used
