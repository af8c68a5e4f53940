"""WSGI middleware verifying grid credentials in front of Keystone.

On ``POST /v3/auth/tokens`` a presented VOMS proxy (TLS client certificate)
or ``Authorization: Bearer`` token is verified once; the resulting
:class:`~voms_auth.identity.Identity` goes into the environ under
:data:`IDENTITY_KEY` for the ``voms`` / ``oidc`` auth handlers. A present but
invalid credential is answered with a Keystone-style JSON 401 carrying the
reason. Every other request passes untouched.

Use it as a plain wrapper (``VomsAuthMiddleware(app)``) or through paste
(``filter_factory``). Keystone itself no longer reads a paste pipeline:
:mod:`voms_auth.keystone.wsgi_api` serves Keystone wrapped in this middleware.
"""

import json
import logging

from voms_auth import errors
from voms_auth.keystone import authenticator as authenticator_mod
from voms_auth.keystone import credentials

LOG = logging.getLogger(__name__)

#: environ key of the verified identity.
IDENTITY_KEY = 'voms_auth.identity'

_TOKEN_PATHS = ('/v3/auth/tokens', '/identity/v3/auth/tokens')


def unauthorized_response(start_response, reason):
    """A Keystone-style JSON 401 with ``reason`` as the message."""
    body = json.dumps({'error': {
        'code': 401, 'title': 'Unauthorized', 'message': reason,
    }}).encode()
    start_response('401 Unauthorized', [
        ('Content-Type', 'application/json'),
        ('Content-Length', str(len(body))),
        ('WWW-Authenticate', 'Keystone'),
    ])
    return [body]


class VomsAuthMiddleware:
    """Verify presented grid credentials before Keystone sees the request.

    :param app: the WSGI application to wrap.
    :param conf: a ``ConfigOpts``; defaults to oslo.config's global ``CONF``
        (Keystone's), read when the first request arrives.
    :param on_refusal: called as ``on_refusal(environ, method, reason)``
        when a credential is refused (``method`` is ``voms`` or ``oidc``),
        e.g. to emit an audit event.
    """

    def __init__(self, app, conf=None, on_refusal=None):
        self.app = app
        self._conf = conf
        self._on_refusal = on_refusal

    def _authenticator(self):
        if self._conf is None:
            from oslo_config import cfg

            self._conf = cfg.CONF
        return authenticator_mod.get_authenticator(self._conf)

    def __call__(self, environ, start_response):
        if (environ.get('REQUEST_METHOD') != 'POST'
                or environ.get('PATH_INFO', '').rstrip('/')
                not in _TOKEN_PATHS):
            return self.app(environ, start_response)
        authenticator = self._authenticator()
        method, verify, credential = self._presented(environ, authenticator)
        if method is None:
            return self.app(environ, start_response)
        try:
            environ[IDENTITY_KEY] = verify(credential)
        except errors.CredentialError as exc:
            LOG.warning('refused %s credential from %s: %s', method,
                        environ.get('REMOTE_ADDR'), exc)
            return self._refuse(environ, start_response, method, str(exc))
        except errors.ConfigurationError as exc:
            LOG.error('voms-auth configuration error: %s', exc)
            return self._refuse(
                environ, start_response, method,
                'grid credentials cannot be verified on this server '
                '(configuration error, see the Keystone log)')
        return self.app(environ, start_response)

    def _refuse(self, environ, start_response, method, reason):
        if self._on_refusal is not None:
            try:
                self._on_refusal(environ, method, reason)
            except Exception:  # noqa: BLE001 - never turn a 401 into a 500
                LOG.exception('on_refusal callback failed')
        return unauthorized_response(start_response, reason)

    @staticmethod
    def _presented(environ, authenticator):
        """``(method, verify function, credential)`` or ``(None, ...)``."""
        opts = authenticator.options
        chain = credentials.proxy_chain(
            environ, opts.trusted_frontends, opts.client_cert_header)
        if chain and credentials.is_rfc_proxy(chain[0]):
            return 'voms', authenticator.verify_proxy_chain, chain
        token = credentials.bearer_token(environ)
        if token:
            return 'oidc', authenticator.verify_token, token
        return None, None, None


def filter_factory(global_conf, **local_conf):
    """paste.deploy filter factory."""

    def _filter(app):
        return VomsAuthMiddleware(app)

    return _filter
