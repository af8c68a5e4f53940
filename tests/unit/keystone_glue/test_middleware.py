"""The WSGI middleware with real proxies and a real trust store.

No Keystone here: the middleware is plain WSGI; a small downstream app
records what reaches it.
"""

import io
import json
import urllib.parse

import pytest
from oslo_config import cfg

from voms_auth import conf as voms_conf
from voms_auth.keystone import authenticator, middleware
from tests.support import keystone as local_keystone
from tests.support import pki as grid_pki


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


class Recorder:
    """Downstream WSGI app remembering the environ it was called with."""

    def __init__(self):
        self.environ = None

    def __call__(self, environ, start_response):
        self.environ = environ
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'downstream']


def _call(app, path='/v3/auth/tokens', method='POST', **environ):
    base = {'REQUEST_METHOD': method, 'PATH_INFO': path,
            'REMOTE_ADDR': '192.0.2.10', 'wsgi.input': io.BytesIO(b'')}
    base.update(environ)
    status = {}

    def start_response(code, headers):
        status['code'] = code
        status['headers'] = dict(headers)

    body = b''.join(app(base, start_response))
    return status['code'], status['headers'], body


@pytest.fixture
def make_app(pki):
    refusals = []

    def _make(**overrides):
        authenticator.reset()
        recorder = Recorder()
        app = middleware.VomsAuthMiddleware(
            recorder, conf=_conf(pki, **overrides),
            on_refusal=lambda env, method, reason: refusals.append(
                (method, reason)))
        return app, recorder

    _make.refusals = refusals
    yield _make
    authenticator.reset()


def test_valid_proxy_puts_identity_in_environ(make_app, pki):
    app, recorder = make_app()
    user = pki.new_user('Mid Valid')
    proxy = pki.make_proxy(user, fqans=['/dteam/ibergrid'])
    code, _, _ = _call(app, **local_keystone.mod_ssl_environ(proxy))
    assert code == '200 OK'
    identity = recorder.environ[middleware.IDENTITY_KEY]
    assert identity.subject == user.dn
    assert identity.issuer == user.ca_dn
    assert [m.group for m in identity.memberships] == ['/dteam/ibergrid']


def test_invalid_proxy_gets_keystone_style_401(make_app, pki):
    app, recorder = make_app()
    user = pki.new_user('Mid Expired')
    proxy = pki.make_proxy(user, hours=1, pastproxy='2:00')
    code, headers, body = _call(app, **local_keystone.mod_ssl_environ(proxy))
    assert code == '401 Unauthorized'
    assert recorder.environ is None
    error = json.loads(body)['error']
    assert error['code'] == 401 and error['title'] == 'Unauthorized'
    assert 'expired' in error['message']
    assert headers['Content-Type'] == 'application/json'
    assert make_app.refusals[-1][0] == 'voms'


def test_other_paths_pass_untouched(make_app, pki):
    app, recorder = make_app()
    user = pki.new_user('Mid Other Path')
    proxy = pki.make_proxy(user, hours=1, pastproxy='2:00')
    environ = local_keystone.mod_ssl_environ(proxy)
    code, _, _ = _call(app, path='/v3/projects', method='GET', **environ)
    assert code == '200 OK'
    assert middleware.IDENTITY_KEY not in recorder.environ


def test_request_without_credentials_passes_untouched(make_app):
    app, recorder = make_app()
    code, _, _ = _call(app)
    assert code == '200 OK'
    assert middleware.IDENTITY_KEY not in recorder.environ


def test_plain_client_certificate_is_not_taken_for_a_proxy(make_app, pki):
    """A non-proxy TLS client certificate (x509 tokenless auth, say) is
    none of our business."""
    app, recorder = make_app()
    user = pki.new_user('Mid Plain Cert')
    code, _, _ = _call(app, SSL_CLIENT_CERT=user.cert_path.read_text())
    assert code == '200 OK'
    assert middleware.IDENTITY_KEY not in recorder.environ


def _header_environ(proxy):
    certs = local_keystone.pem_certificates(proxy.read_text())
    return {'HTTP_X_SSL_CLIENT_CERT_CHAIN':
            urllib.parse.quote(''.join(certs))}


def test_certificate_header_ignored_from_untrusted_address(make_app, pki):
    app, recorder = make_app(trusted_frontends=['198.51.100.7'])
    user = pki.new_user('Mid Header Untrusted')
    proxy = pki.make_proxy(user)
    code, _, _ = _call(app, REMOTE_ADDR='192.0.2.10',
                       **_header_environ(proxy))
    assert code == '200 OK'
    assert middleware.IDENTITY_KEY not in recorder.environ


def test_certificate_header_ignored_when_no_frontend_is_trusted(make_app,
                                                                pki):
    app, recorder = make_app()
    user = pki.new_user('Mid Header Default')
    proxy = pki.make_proxy(user)
    code, _, _ = _call(app, REMOTE_ADDR='127.0.0.1',
                       **_header_environ(proxy))
    assert code == '200 OK'
    assert middleware.IDENTITY_KEY not in recorder.environ


def test_certificate_header_read_from_trusted_frontend(make_app, pki):
    app, recorder = make_app(trusted_frontends=['198.51.100.0/24'])
    user = pki.new_user('Mid Header Trusted')
    proxy = pki.make_proxy(user)
    code, _, _ = _call(app, REMOTE_ADDR='198.51.100.7',
                       **_header_environ(proxy))
    assert code == '200 OK'
    assert recorder.environ[middleware.IDENTITY_KEY].subject == user.dn


def test_bearer_without_configured_issuers_is_401_not_500(make_app):
    app, recorder = make_app()
    code, _, body = _call(app, HTTP_AUTHORIZATION='Bearer abc.def.ghi')
    assert code == '401 Unauthorized'
    assert 'configuration error' in json.loads(body)['error']['message']
    assert recorder.environ is None


def test_cache_serves_until_ttl_then_sees_revocation(make_app, pki):
    user = pki.new_user('Mid Cached')
    proxy = pki.make_proxy(user)
    environ = local_keystone.mod_ssl_environ(proxy)
    cached_app, _ = make_app(verification_cache_ttl=3600)
    assert _call(cached_app, **environ)[0] == '200 OK'
    pki.revoke(user)
    # Within the TTL the verified result is reused...
    assert _call(cached_app, **environ)[0] == '200 OK'
    # ...and without a cache the revocation is seen at once.
    uncached_app, _ = make_app(verification_cache_ttl=0)
    code, _, body = _call(uncached_app, **environ)
    assert code == '401 Unauthorized'
    assert 'revoked' in json.loads(body)['error']['message']


def test_paste_filter_factory_wraps_an_app():
    recorder = Recorder()
    app = middleware.filter_factory({})(recorder)
    assert isinstance(app, middleware.VomsAuthMiddleware)
    assert app.app is recorder
