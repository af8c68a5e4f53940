"""WSGI middleware verifying grid credentials in front of Keystone.

On ``POST /v3/auth/tokens`` a presented VOMS proxy (TLS client certificate)
or ``Authorization: Bearer`` token is verified once; the resulting
:class:`~voms_auth.identity.Identity` goes into the environ under
:data:`IDENTITY_KEY` for the ``voms`` / ``oidc`` auth handlers. A present but
invalid credential is answered with a Keystone-style JSON 401 carrying the
reason. Every other request passes untouched.

Use it as a plain wrapper (``VomsAuthMiddleware(app)``) or through paste
(``filter_factory``). Keystone itself no longer reads a paste pipeline:
:mod:`voms_auth.keystone.wsgi` serves Keystone wrapped in this middleware.
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
    """

    def __init__(self, app, conf=None):
        self.app = app
        self._conf = conf

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
        try:
            identity = self._verify(environ)
        except errors.CredentialError as exc:
            LOG.warning('refused credential from %s: %s',
                        environ.get('REMOTE_ADDR'), exc)
            return unauthorized_response(start_response, str(exc))
        except errors.ConfigurationError as exc:
            LOG.error('voms-auth configuration error: %s', exc)
            return unauthorized_response(
                start_response, 'grid credentials cannot be verified on '
                'this server (configuration error, see the Keystone log)')
        if identity is not None:
            environ[IDENTITY_KEY] = identity
        return self.app(environ, start_response)

    def _verify(self, environ):
        authenticator = self._authenticator()
        opts = authenticator.options
        chain = credentials.proxy_chain(
            environ, opts.trusted_frontends, opts.client_cert_header)
        if chain and credentials.is_rfc_proxy(chain[0]):
            return authenticator.verify_proxy_chain(chain)
        token = credentials.bearer_token(environ)
        if token:
            return authenticator.verify_token(token)
        return None


def filter_factory(global_conf, **local_conf):
    """paste.deploy filter factory."""

    def _filter(app):
        return VomsAuthMiddleware(app)

    return _filter
