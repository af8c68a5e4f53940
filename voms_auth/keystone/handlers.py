"""Keystone auth method handlers ``voms`` and ``oidc``.

Registered under the ``keystone.auth`` entry point namespace; enabled with
``[auth] methods = password,token,voms,oidc``. Each handler takes the
identity verified by :mod:`voms_auth.keystone.middleware` (or verifies the
credential itself when the middleware is not in front), applies the mapping,
provisions the user and caps the token's expiry at the credential's.
"""

import datetime

import flask
import keystone.conf
from keystone import exception
from keystone.auth.plugins import base
from keystone.common import provider_api
from keystone.server.flask import common as flask_common
from oslo_log import log
from pycadf import cadftaxonomy

from voms_auth import errors
from voms_auth.keystone import audit, credentials, middleware, provisioning
from voms_auth.keystone import authenticator as authenticator_mod

CONF = keystone.conf.CONF
LOG = log.getLogger(__name__)
PROVIDERS = provider_api.ProviderAPIs


class CredentialRefused(exception.Unauthorized):
    """401 whose message always reaches the caller.

    Keystone hides the detail of ``Unauthorized`` unless ``insecure_debug``
    is on. The reasons raised here describe only the caller's own credential
    or mapping outcome, so they are shown: a grid user cannot otherwise tell
    an expired proxy from a missing VO.
    """

    def _build_message(self, message, **kwargs):
        return message or super()._build_message(message, **kwargs)


_PREPARED_KEY = 'voms_auth.prepared.%s'
_WARNED = set()

_CONFIG_REASON = ('grid credentials cannot be verified on this server '
                  '(configuration error, see the Keystone log)')


def _requested_project():
    """The project scope of the request body, as Keystone would read it."""
    body = flask.request.get_json(silent=True) or {}
    scope = (body.get('auth') or {}).get('scope')
    if not isinstance(scope, dict):
        return None
    project = scope.get('project')
    return project if isinstance(project, dict) else None


def _project_matches(project, wanted):
    if wanted.get('id'):
        return project['id'] == wanted['id']
    if project['name'] != wanted.get('name'):
        return False
    domain = wanted.get('domain') or {}
    if domain.get('id'):
        return project['domain_id'] == domain['id']
    if domain.get('name'):
        try:
            ref = PROVIDERS.resource_api.get_domain_by_name(domain['name'])
        except exception.DomainNotFound:
            return False
        return project['domain_id'] == ref['id']
    return False


class _GridMethod(base.AuthMethodHandler):
    """Shared flow: identity -> mapping -> provisioning -> response."""

    method = None

    def __init__(self):
        super().__init__()
        if (self.method not in CONF.auth.additional_primary_auth_methods
                and self.method not in _WARNED):
            _WARNED.add(self.method)
            LOG.warning(
                'tokens issued by the %(m)s method are treated as delegated '
                'by Keystone and cannot be re-scoped: add %(m)s to [auth] '
                'additional_primary_auth_methods', {'m': self.method})

    def _identity(self, auth_payload, authenticator):
        raise NotImplementedError

    def prepare(self, auth_payload):
        """Verify, map and provision; ``(identity, user)``, once a request.

        Runs from :func:`provision_before_scope` when the voms-auth WSGI
        application serves Keystone (so that a project the mapping creates
        exists before Keystone resolves the requested scope), else from
        :meth:`authenticate`.

        :raises CredentialRefused: with the reason, after a CADF event.
        """
        environ = flask.request.environ
        key = _PREPARED_KEY % self.method
        if key in environ:
            return environ[key]
        authenticator = authenticator_mod.get_authenticator(CONF)
        identity = None
        try:
            identity = self._identity(auth_payload or {}, authenticator)
            result = authenticator.mapping_file().current().evaluate(identity)
            if not result.grants:
                raise errors.CredentialError(
                    'no rule of the mapping grants access to %s'
                    % _describe_memberships(identity))
            provisioner = provisioning.Provisioner(
                authenticator.options.user_domain)
            user = provisioner.sync(identity, result.grants)
            if not user.get('enabled', True):
                raise errors.CredentialError('user %s is disabled'
                                             % user['name'])
        except errors.VomsAuthError as exc:
            self._refuse(identity, exc)
        environ[key] = (identity, user)
        return identity, user

    def authenticate(self, auth_payload):
        identity, user = self.prepare(auth_payload)
        try:
            self._check_scope(user, identity)
        except errors.CredentialError as exc:
            self._refuse(identity, exc)
        self._notify(identity, user['id'], cadftaxonomy.OUTCOME_SUCCESS)
        return base.AuthHandlerResponse(
            status=True, response_body=None,
            response_data={'user_id': user['id'],
                           'expires_at': _token_expiry(identity)})

    def _refuse(self, identity, exc):
        if isinstance(exc, errors.CredentialError):
            reason = str(exc)
            LOG.warning('%s login refused: %s', self.method, reason)
        else:
            reason = _CONFIG_REASON
            LOG.error('%s login failed on configuration: %s',
                      self.method, exc)
        self._notify(identity, None, cadftaxonomy.OUTCOME_FAILURE, reason)
        raise CredentialRefused(reason) from None

    @staticmethod
    def _check_scope(user, identity):
        wanted = _requested_project()
        if not wanted:
            return
        projects = PROVIDERS.assignment_api.list_projects_for_user(user['id'])
        if not any(_project_matches(p, wanted) for p in projects):
            raise errors.CredentialError(
                'project %s is not among the projects mapped for %s'
                % (wanted.get('id') or wanted.get('name'),
                   _describe_memberships(identity)))

    def _notify(self, identity, user_id, outcome, reason=None):
        audit.send(outcome, self.method, flask.request.environ,
                   user_id=user_id,
                   issuer=identity.issuer if identity else None,
                   reason=reason)


class Voms(_GridMethod):
    """``voms``: the proxy is the TLS client certificate of the request."""

    method = 'voms'

    def _identity(self, auth_payload, authenticator):
        environ = flask.request.environ
        identity = environ.get(middleware.IDENTITY_KEY)
        if identity is not None and identity.kind == 'voms':
            return identity
        opts = authenticator.options
        chain = credentials.proxy_chain(
            environ, opts.trusted_frontends, opts.client_cert_header)
        if not chain:
            raise errors.CredentialError(
                'no VOMS proxy was presented: use the proxy as the TLS '
                'client certificate of the request')
        return authenticator.verify_proxy_chain(chain)


class Oidc(_GridMethod):
    """``oidc``: an access token in the payload or a Bearer header."""

    method = 'oidc'

    def _identity(self, auth_payload, authenticator):
        token = auth_payload.get('access_token')
        if token is not None and not isinstance(token, str):
            raise errors.CredentialError('access_token must be a string')
        if not token:
            identity = flask.request.environ.get(middleware.IDENTITY_KEY)
            if identity is not None and identity.kind == 'oidc':
                return identity
            token = credentials.bearer_token(flask.request.environ)
        if not token:
            raise errors.CredentialError(
                'no access token was presented: send it as '
                '{"oidc": {"access_token": ...}} or Authorization: Bearer')
        return authenticator.verify_token(token)


_METHODS = {'voms': Voms, 'oidc': Oidc}


def provision_before_scope():
    """Flask ``before_request`` hook: run :meth:`_GridMethod.prepare` for
    the grid methods a token request names, before Keystone resolves its
    scope. Other requests are left alone."""
    request = flask.request
    if (request.method != 'POST'
            or request.path.rstrip('/') not in ('/v3/auth/tokens',)):
        return None
    body = request.get_json(silent=True)
    try:
        identity = body['auth']['identity']
        methods = identity['methods']
    except (KeyError, TypeError):
        return None  # Keystone's own validation reports it
    if not isinstance(methods, list):
        return None
    # POST /v3/auth/tokens is an unenforced API; a refusal raised here
    # comes before Keystone's view marks it so.
    flask_common.set_unenforced_ok()
    for name, handler in _METHODS.items():
        if name in methods and name in CONF.auth.methods:
            payload = identity.get(name)
            handler().prepare(payload if isinstance(payload, dict) else {})
    return None


def _describe_memberships(identity):
    if not identity.memberships:
        return '%s (no VO memberships)' % identity.subject
    shown = ', '.join(m.source or m.group for m in identity.memberships[:5])
    more = len(identity.memberships) - 5
    return '%s (memberships: %s%s)' % (
        identity.subject, shown, ', ...' if more > 0 else '')


def _token_expiry(identity):
    """The earlier of Keystone's own expiry and the credential's (naive UTC,
    as Keystone keeps times)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    default = now + datetime.timedelta(seconds=CONF.token.expiration)
    expiry = min(default, identity.expires_at.astimezone(
        datetime.timezone.utc))
    return expiry.replace(tzinfo=None, microsecond=0)
