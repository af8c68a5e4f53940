"""Keystone auth method handlers ``voms`` and ``oidc``.

Registered under the ``keystone.auth`` entry point namespace; enabled by
appending them to Keystone's ``[auth] methods``. A login takes one path::

    WSGI environ + auth payload
      -> service.GridAuthService.identify()    the credential -> Identity
      -> access.grant()                        mapping -> user, memberships
      -> token (expiry capped at the credential's end)

:func:`provision_before_scope` runs that path from a Flask ``before_request``
hook (Keystone resolves the requested scope before it runs auth methods, so
a project the mapping creates must exist by then); the handler reuses the
result, or runs the path itself when the hook is not installed.
"""

import datetime
import logging

import flask
import keystone.conf
from keystone import exception
from keystone.auth.plugins import base
from keystone.common import provider_api
from keystone.server.flask import common as flask_common
from oslo_config import cfg
from oslo_db import exception as db_exception
from pycadf import cadftaxonomy
from sqlalchemy import exc as sqlalchemy_exc

from voms_auth import errors
from voms_auth.keystone import access, audit, provisioning, service

CONF = keystone.conf.CONF
LOG = logging.getLogger(__name__)
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

_DB_REASON = ('the login could not be completed because the identity '
              'database failed (see the Keystone log); try again')
_BUG_REASON = ('the credential could not be checked because of an internal '
               'error (see the Keystone log); it is refused')
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


def _project_ref(wanted):
    """The requested project, or ``None`` when Keystone does not know it
    (Keystone's own scope check then refuses the request)."""
    try:
        if wanted.get('id'):
            return PROVIDERS.resource_api.get_project(wanted['id'])
        domain = wanted.get('domain') or {}
        domain_id = domain.get('id') or PROVIDERS.resource_api.\
            get_domain_by_name(domain.get('name'))['id']
        return PROVIDERS.resource_api.get_project_by_name(
            wanted.get('name'), domain_id)
    except (exception.DomainNotFound, exception.ProjectNotFound,
            exception.ValidationError, TypeError):
        return None


def _check_project_enabled(project):
    """Refuse a scope on a disabled project (or one in a disabled domain)
    with the reason; Keystone's own refusal does not say it."""
    if project is None:
        return
    if not project.get('enabled', True):
        raise errors.CredentialError('project %s is disabled'
                                     % project['name'])
    domain = PROVIDERS.resource_api.get_domain(project['domain_id'])
    if not domain.get('enabled', True):
        raise errors.CredentialError('domain %s of project %s is disabled'
                                     % (domain['name'], project['name']))


def _provisioner():
    opts = CONF.voms_auth
    key = (opts.user_domain, opts.identity_provider, opts.authorization_ttl)
    provisioner = _PROVISIONERS.get(key)
    if provisioner is None:
        provisioner = _PROVISIONERS[key] = provisioning.Provisioner(*key)
    return provisioner


_PROVISIONERS = {}


def is_primary_method(method):
    """Whether this Keystone treats tokens of ``method`` as a primary login
    (re-scope, application credentials and trusts allowed).

    Keystone 27.1.0, 28.1.0, 29.1.0 and 30 keep an allowlist of primary
    methods, extended by ``[auth] additional_primary_auth_methods``; a
    method not on it is delegated. Earlier releases (25.0.0, 26.x, 27.0.x,
    28.0.x, 29.0.x) have neither the option nor the allowlist: they
    recognise delegation by its markers (trust, application credential,
    OAuth1), so every other method, ours included, is primary.
    """
    try:
        extra = CONF.auth.additional_primary_auth_methods
    except cfg.NoSuchOptError:
        return True
    return method in extra


class _GridMethod(base.AuthMethodHandler):
    """One login: identity -> access -> response."""

    method = None

    def __init__(self):
        super().__init__()
        if not is_primary_method(self.method) and self.method not in _WARNED:
            _WARNED.add(self.method)
            LOG.warning(
                'tokens issued by the %(m)s method are treated as delegated '
                'by Keystone: they cannot be re-scoped and cannot create '
                'application credentials or trusts. Add %(m)s to [auth] '
                'additional_primary_auth_methods', {'m': self.method})

    def prepare(self, auth_payload):
        """Verify, map and provision; ``(identity, user, mapped project
        ids, requested project or None)``, once a request.

        :raises CredentialRefused: with the reason, after a CADF event.
        """
        environ = flask.request.environ
        key = _PREPARED_KEY % self.method
        if key in environ:
            return environ[key]
        grid = service.get_service(CONF)
        identity = None
        try:
            identity = grid.identify(self.method, environ,
                                     auth_payload or {})
            wanted = _requested_project()
            project = _project_ref(wanted) if wanted else None
            _check_project_enabled(project)  # before anything is granted
            user, mapped = access.grant(
                identity, grid.mapping(), _provisioner(),
                require_approval=grid.options.require_approval)
            if project is None and wanted:
                project = _project_ref(wanted)  # created by the mapping
        except errors.VomsAuthError as exc:
            self._refuse(identity, exc)
        except (db_exception.DBError, sqlalchemy_exc.SQLAlchemyError):
            # Nothing is half-done: memberships are written in one
            # transaction and every other step is repeated by the next
            # login. Say so instead of an HTML 500.
            LOG.exception('%s login failed on a database error', self.method)
            self._refuse(identity, errors.CredentialError(_DB_REASON))
        except exception.Error:
            raise  # Keystone's own errors keep their status
        except Exception:  # noqa: BLE001 - fail closed, never a 500
            LOG.exception('%s login failed on an unexpected error',
                          self.method)
            self._refuse(identity, errors.CredentialError(_BUG_REASON))
        environ[key] = (identity, user, mapped, project)
        return environ[key]

    def authenticate(self, auth_payload):
        identity, user, mapped, project = self.prepare(auth_payload)
        try:
            self._check_scope(user, identity, mapped, project)
        except errors.CredentialError as exc:
            self._refuse(identity, exc)
        self._notify(identity, user['id'], cadftaxonomy.OUTCOME_SUCCESS)
        return base.AuthHandlerResponse(
            status=True, response_body=None,
            response_data={'user_id': user['id'],
                           'expires_at': _token_expiry(identity)})

    def _refuse(self, identity, exc):
        if isinstance(exc, errors.CredentialError):
            # The client sees the public reason (no server paths); the
            # log keeps the whole one. Both are escaped on construction.
            reason = exc.public
            LOG.warning('%s login refused: %s', self.method, exc.detail)
        else:
            reason = _CONFIG_REASON
            LOG.error('%s login failed on configuration: %s',
                      self.method, errors.printable(exc))
        self._notify(identity, None, cadftaxonomy.OUTCOME_FAILURE, reason)
        raise CredentialRefused(reason) from None

    @staticmethod
    def _check_scope(user, identity, mapped, project):
        """Refuse, with a reason, a project scope the person holds no role
        on. A mapped project is known without a query; only another one
        (an admin's own grant, say) needs the full effective list."""
        wanted = _requested_project()
        if not wanted:
            return
        if project is not None and project['id'] in mapped:
            return
        held = project is not None and any(
            p['id'] == project['id'] for p in
            PROVIDERS.assignment_api.list_projects_for_user(user['id']))
        if not held:
            raise errors.CredentialError(
                'project %s is not among the projects mapped for %s'
                % (wanted.get('id') or wanted.get('name'),
                   access.describe(identity)))

    def _notify(self, identity, user_id, outcome, reason=None):
        audit.send(outcome, self.method, flask.request.environ,
                   user_id=user_id,
                   issuer=identity.issuer if identity else None,
                   reason=reason)


class Voms(_GridMethod):
    """``voms``: the proxy is the TLS client certificate of the request."""

    method = 'voms'


class Oidc(_GridMethod):
    """``oidc``: an access token in the payload or a Bearer header."""

    method = 'oidc'


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


def _token_expiry(identity):
    """The earlier of Keystone's own expiry and the credential's (naive UTC,
    whole seconds, as Keystone keeps times)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    default = now + datetime.timedelta(seconds=CONF.token.expiration)
    expiry = min(default, identity.expires_at.astimezone(
        datetime.timezone.utc))
    return expiry.replace(tzinfo=None, microsecond=0)
