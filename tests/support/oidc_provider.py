"""A real OpenID Provider on 127.0.0.1 for tests: :class:`OpenIDProvider`.

The provider is the npm package ``oidc-provider`` (panva, OpenID Certified),
pinned to 8.8.1 in ``tests/support/op/package-lock.json``: the 8.x line
and all its dependencies run on Debian 12's Node.js 18 as well as on
Node.js 20+ (the OIDC suite was run with Node.js 18.19.0 and 20.20;
oidc-provider 9.x moves to koa 3 / jose 6 and newer Node.js). It was
picked over the Python ``idpyoidc`` server because it issues RFC 9068
JWT access tokens, opaque tokens, introspection and userinfo out of the
box, and offers a supported extension point (``registerGrantType``) for
getting a user's token without a browser. ``tests/support/op/server.js``
says exactly which parts are test-only; discovery, JWKS, signing, client
authentication, introspection and userinfo are the provider's own.

Use::

    with OpenIDProvider() as op:
        token = op.jwt_token('alice', audience='https://keystone.example',
                             entitlements=['urn:mace:egi.eu:group:dteam'
                                           ':role=member#aai.egi.eu'])
        opaque = op.opaque_token('bob', userinfo={'eduperson_entitlement':
                                                  [...]})
        op.rotate_keys()          # new signing keys, old ones dropped
        op.stop(); op.start()     # provider down / up again (same keys)

or the pytest fixture :func:`oidc_provider` (session-scoped; import it
into a ``conftest.py``: ``from tests.support.oidc_provider import
oidc_provider``).
``node_modules`` is installed with ``npm ci`` on first use.
"""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from tests.support import local

OP_DIR = pathlib.Path(__file__).resolve().parent / 'op'
TEST_GRANT = 'urn:voms-auth:params:grant-type:test-user'
_INSTALL_LOCK = threading.Lock()


class ProviderStartError(RuntimeError):
    """The provider could not be installed or started."""


def ensure_installed():
    """Run ``npm ci`` in ``tests/support/op`` when node_modules is missing."""
    with _INSTALL_LOCK:
        marker = OP_DIR / 'node_modules' / 'oidc-provider' / 'package.json'
        if marker.exists():
            return
        npm = shutil.which('npm')
        if not npm or not shutil.which('node'):
            raise ProviderStartError(
                'node and npm are needed for the OpenID Provider used in '
                'tests (tools/install-deps.sh installs them)')
        proc = subprocess.run(
            [npm, 'ci', '--no-audit', '--no-fund', '--loglevel=error'],
            cwd=OP_DIR, capture_output=True, text=True, timeout=600,
            check=False)
        if proc.returncode != 0:
            raise ProviderStartError('npm ci failed: %s'
                                     % (proc.stderr.strip()[-2000:],))


class OpenIDProvider:
    """A running ``oidc-provider`` with one confidential client.

    :ivar issuer: the issuer URL (``http://127.0.0.1:<port>``).
    :ivar client_id: / :ivar client_secret: the registered client, allowed
        to introspect tokens (``client_secret_basic``).
    :param redirect_uris: when given, the client may also use the
        authorization code flow with these redirect URIs (a relying party
        such as mod_auth_openidc); people registered with
        :meth:`add_person` sign in on the provider's login page.
    """

    def __init__(self, port=None, client_id='voms-auth-test',
                 client_secret=None, redirect_uris=()):
        self.port = port or local.free_port()
        self.issuer = 'http://127.0.0.1:%d' % self.port
        self.client_id = client_id
        self.client_secret = client_secret or os.urandom(16).hex()
        self.redirect_uris = tuple(redirect_uris)
        self._state = tempfile.mkdtemp(prefix='voms-auth-op-')
        self._proc = None
        self._log = None

    # -- life cycle -------------------------------------------------------

    def start(self, timeout=30):
        """Start the provider (same port and keys as before) and wait."""
        if self.running:
            return self
        ensure_installed()
        self._log = open(os.path.join(self._state, 'op.log'), 'ab')
        self._proc = subprocess.Popen(
            ['node', str(OP_DIR / 'server.js'), '--port', str(self.port),
             '--state-dir', self._state, '--client-id', self.client_id,
             '--client-secret', self.client_secret,
             *(arg for uri in self.redirect_uris
               for arg in ('--redirect-uri', uri))],
            cwd=OP_DIR, stdout=subprocess.PIPE, stderr=self._log)
        deadline = time.monotonic() + timeout
        line = self._proc.stdout.readline().decode()
        if not line.startswith('READY'):
            self.stop()
            raise ProviderStartError('provider did not start: %s'
                                     % (self.log_text()[-2000:],))
        while time.monotonic() < deadline:
            try:
                requests.get(self.discovery_url, timeout=2)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise ProviderStartError('provider not answering on %s' % self.issuer)

    def stop(self):
        """Stop the provider (its port refuses connections afterwards)."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc.stdout.close()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self):
        """Stop the provider and remove its state directory."""
        self.stop()
        shutil.rmtree(self._state, ignore_errors=True)

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def log_text(self):
        try:
            with open(os.path.join(self._state, 'op.log'),
                      errors='replace') as handle:
                return handle.read()
        except OSError:
            return ''

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- endpoints --------------------------------------------------------

    @property
    def discovery_url(self):
        return self.issuer + '/.well-known/openid-configuration'

    def jwks(self):
        """The published JWKS (public keys) as a dict."""
        return requests.get(self.issuer + '/jwks', timeout=10).json()

    def rotate_keys(self, keep_old=False):
        """Replace the signing keys; ``keep_old`` keeps publishing the old.

        Returns the kids now published. Tokens issued afterwards are signed
        with the new keys.
        """
        resp = requests.post(self.issuer + '/_test/rotate',
                             params={'keep': '1' if keep_old else '0'},
                             timeout=30)
        resp.raise_for_status()
        return resp.json()['kids']

    # -- people who sign in on the login page --------------------------------

    def add_person(self, username, password, subject, *, userinfo=None,
                   token_claims=None):
        """Let ``username`` sign in with ``password`` on the login page.

        :param subject: the ``sub`` of their tokens.
        :param userinfo: their claims served at userinfo.
        :param token_claims: claims put into the access tokens they get
            (e.g. ``eduperson_entitlement``).
        """
        resp = requests.post(self.issuer + '/_test/people', json={
            'username': username, 'password': password, 'sub': subject,
            'claims': userinfo or {}, 'token_claims': token_claims or {}},
            timeout=10)
        resp.raise_for_status()

    # -- tokens -----------------------------------------------------------

    def token(self, subject, *, audience=None, token_claims=None,
              userinfo=None, alg='RS256', ttl=None, scope=None,
              iss=None, kid=True):
        """Obtain a real access token for ``subject`` from the token endpoint.

        :param audience: resource indicator; when given the token is a signed
            JWT (RFC 9068, ``typ: at+jwt``) with that ``aud``; when ``None``
            it is an opaque token usable at userinfo and introspection.
        :param token_claims: extra claims carried by the token itself (in
            the JWT, or in the introspection response of an opaque token).
        :param userinfo: the user's claims served by the userinfo endpoint.
        :param alg: signing algorithm: RS256, PS256, ES256 or EdDSA.
        :param ttl: lifetime in seconds (default 600).
        :param iss: sign a JWT claiming this issuer instead of the
            provider's own (as a provider sharing keys between tenants).
        :param kid: ``False``: the JWT header names no key (``kid``), as
            some providers with one signing key do.
        :returns: the access token string.
        """
        data = {'grant_type': TEST_GRANT, 'sub': subject, 'alg': alg,
                'claims': json.dumps(userinfo or {}),
                'token_claims': json.dumps(token_claims or {})}
        if audience:
            data['resource'] = audience
        if ttl is not None:
            data['ttl'] = str(int(ttl))
        if scope:
            data['scope'] = scope
        if iss:
            data['iss'] = iss
        if not kid:
            data['nokid'] = '1'
        resp = requests.post(self.issuer + '/token', data=data,
                             auth=(self.client_id, self.client_secret),
                             timeout=30)
        if resp.status_code != 200:
            raise RuntimeError('token endpoint said %s: %s'
                               % (resp.status_code, resp.text))
        return resp.json()['access_token']

    def jwt_token(self, subject, audience, *, entitlements=None,
                  wlcg_groups=None, claims=None, **kwargs):
        """A JWT access token carrying ``eduperson_entitlement`` and/or
        ``wlcg.groups`` (plus any other ``claims``) for ``audience``."""
        token_claims = dict(claims or {})
        if entitlements is not None:
            token_claims['eduperson_entitlement'] = list(entitlements)
        if wlcg_groups is not None:
            token_claims['wlcg.groups'] = list(wlcg_groups)
        return self.token(subject, audience=audience,
                          token_claims=token_claims, **kwargs)

    def opaque_token(self, subject, *, userinfo=None, token_claims=None,
                     **kwargs):
        """An opaque access token; its claims come from introspection
        (``token_claims``) and userinfo (``userinfo``), EGI Check-in style."""
        return self.token(subject, audience=None, userinfo=userinfo,
                          token_claims=token_claims, **kwargs)

    def client_credentials_token(self, audience=None):
        """A client_credentials token (a service, no user) of the client."""
        data = {'grant_type': 'client_credentials'}
        if audience:
            data['resource'] = audience
        resp = requests.post(self.issuer + '/token', data=data,
                             auth=(self.client_id, self.client_secret),
                             timeout=30)
        resp.raise_for_status()
        return resp.json()['access_token']

    def add_password_user(self, username, password, *, token_claims=None,
                          userinfo=None):
        """Let ``username`` get tokens with the OAuth 2.0 password grant
        (keystoneauth1's ``v3oidcpassword``); the opaque tokens carry
        ``token_claims`` (in introspection), userinfo serves ``userinfo``."""
        resp = requests.post(self.issuer + '/_test/users', json={
            'username': username, 'password': password,
            'claims': userinfo or {}, 'token_claims': token_claims or {}},
            timeout=10)
        resp.raise_for_status()

    def approve_device(self, user_code, subject, *, token_claims=None,
                       userinfo=None):
        """The user step of the device flow: ``subject`` approves the
        pending device code ``user_code`` (as after logging in at the
        provider's verification page); its tokens carry ``token_claims``."""
        resp = requests.post(self.issuer + '/_test/device/approve', json={
            'user_code': user_code, 'sub': subject,
            'claims': userinfo or {}, 'token_claims': token_claims or {}},
            timeout=10)
        if resp.status_code != 204:
            raise RuntimeError('device approval refused: %s' % resp.text)

    def set_client_claims(self, token_claims, client_id=None):
        """Claims the client_credentials tokens of ``client_id`` (default:
        the registered client) carry besides ``sub`` = the client id, as a
        provider configures them for a service account."""
        resp = requests.post(self.issuer + '/_test/client-claims', json={
            'client_id': client_id or self.client_id,
            'token_claims': token_claims}, timeout=10)
        resp.raise_for_status()

    def revoke(self, token):
        """Revoke ``token`` at the RFC 7009 revocation endpoint."""
        resp = requests.post(self.issuer + '/token/revocation',
                             data={'token': token},
                             auth=(self.client_id, self.client_secret),
                             timeout=10)
        resp.raise_for_status()

    def introspect(self, token):
        """The provider's RFC 7662 answer for ``token`` (for assertions)."""
        return requests.post(self.issuer + '/token/introspection',
                             data={'token': token},
                             auth=(self.client_id, self.client_secret),
                             timeout=10).json()


class HostileProvider:
    """A hand-written provider on 127.0.0.1 that does what a real one never
    would, for tests of failing and hostile providers.

    It serves discovery (``discovery`` overrides fields), a JWKS with its
    own RSA key, introspection (``introspection`` raw bytes) and userinfo
    (``userinfo`` raw bytes). :meth:`sign` signs any payload bytes
    (``Infinity``, ``NaN``, deep nesting) with that key. ``mode``:

    * ``'ok'`` - answers at once;
    * ``'hang'`` - accepts connections and never answers;
    * ``'trickle'`` - answers one byte every ``trickle_interval`` seconds
      (status line and headers included).

    ``requests`` counts the requests received (by path).
    """

    def __init__(self, mode='ok', trickle_interval=1.0):
        import http.server

        from cryptography.hazmat.primitives.asymmetric import rsa
        from jwt.algorithms import RSAAlgorithm

        self.mode = mode
        self.trickle_interval = trickle_interval
        self.port = local.free_port()
        self.issuer = 'http://127.0.0.1:%d' % self.port
        self.discovery = {}
        self.introspection = b'{"active": false}'
        self.userinfo = b'{}'
        self.requests = {}
        self._key = rsa.generate_private_key(public_exponent=65537,
                                             key_size=2048)
        self.kid = 'hostile-1'
        self._jwk = dict(json.loads(RSAAlgorithm.to_jwk(
            self._key.public_key())), kid=self.kid, alg='RS256', use='sig')
        self._closing = threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def do_GET(self):
                owner._answer(self)

            def do_POST(self):
                length = int(self.headers.get('Content-Length') or 0)
                self.rfile.read(length)
                owner._answer(self)

        self._server = http.server.ThreadingHTTPServer(
            ('127.0.0.1', self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        daemon=True)

    def _body(self, path):
        if path == '/.well-known/openid-configuration':
            doc = {'issuer': self.issuer,
                   'jwks_uri': self.issuer + '/jwks',
                   'introspection_endpoint': self.issuer + '/introspect',
                   'userinfo_endpoint': self.issuer + '/userinfo'}
            doc.update(self.discovery)
            return json.dumps(doc).encode()
        if path == '/jwks':
            return json.dumps({'keys': [self._jwk]}).encode()
        if path == '/introspect':
            return self.introspection
        if path == '/userinfo':
            return self.userinfo
        return None

    def _answer(self, handler):
        path = handler.path.split('?')[0]
        self.requests[path] = self.requests.get(path, 0) + 1
        if self.mode == 'hang':
            self._closing.wait()
            return
        body = self._body(path)
        status = b'200 OK' if body is not None else b'404 Not Found'
        body = body if body is not None else b'{}'
        raw = (b'HTTP/1.1 ' + status + b'\r\nContent-Type: application/json'
               b'\r\nContent-Length: ' + str(len(body)).encode()
               + b'\r\n\r\n' + body)
        try:
            if self.mode == 'trickle':
                for i in range(len(raw)):
                    if self._closing.wait(self.trickle_interval):
                        return
                    handler.wfile.write(raw[i:i + 1])
                    handler.wfile.flush()
            else:
                handler.wfile.write(raw)
        except OSError:
            pass  # the client gave up

    def sign(self, payload, header=None):
        """A JWT whose payload segment is ``payload`` (bytes, or a dict
        dumped as JSON) signed RS256 with this provider's key."""
        import base64

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(data):
            return base64.urlsafe_b64encode(data).rstrip(b'=').decode()

        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
        if header is None:
            header = {'alg': 'RS256', 'kid': self.kid}
        if isinstance(header, dict):
            header = json.dumps(header).encode()
        signing_input = b64(header) + '.' + b64(payload)
        signature = self._key.sign(signing_input.encode(),
                                   padding.PKCS1v15(), hashes.SHA256())
        return signing_input + '.' + b64(signature)

    def start(self):
        self._thread.start()
        return self

    def close(self):
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


@pytest.fixture(scope='session')
def oidc_provider():
    """A started :class:`OpenIDProvider`, shared by the test session.

    Tests that stop it or rotate its keys must use their own instance
    (``with OpenIDProvider() as op:``) so they do not disturb others.
    """
    with OpenIDProvider() as provider:
        yield provider
