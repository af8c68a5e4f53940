"""Keystone auth method handlers ``voms``, ``oidc``, ``openid`` and
``mapped``.

``voms`` and ``oidc`` are registered as the ``default`` plugins of the
``keystone.auth.voms`` / ``keystone.auth.oidc`` entry point namespaces and
enabled by appending them to Keystone's ``[auth] methods``. ``openid`` and
``mapped`` are the plugin ``voms_auth`` of ``keystone.auth.openid`` /
``keystone.auth.mapped`` (``[auth] openid = voms_auth``): Keystone routes
its federation URLs (``/v3/OS-FEDERATION/identity_providers/{idp}/protocols/
{P}/auth`` and the WebSSO ones) to the method named ``P``; these handlers
serve the identity providers configured for voms-auth
(:mod:`voms_auth.keystone.federation`) and hand every other request to
Keystone's own ``Mapped`` plugin unchanged. Every login voms-auth serves
takes one path::

    WSGI environ + auth payload
      -> service.GridAuthService.identify()    the credential -> Identity
      -> access.grant()                        mapping -> user, memberships
      -> token (expiry capped at the credential's end)

:func:`provision_before_scope` runs that path from a Flask ``before_request``
hook (Keystone resolves the requested scope before it runs auth methods, so
a project the mapping creates must exist by then); the handler reuses the
result, or runs the path itself when the hook is not installed.
"""

import contextlib
import datetime
import fcntl
import http.client
import logging
import time

import flask
import keystone.conf
from keystone import exception
from keystone.auth import core as auth_core
from keystone.auth.plugins import base
from keystone.auth.plugins import mapped as keystone_mapped
from keystone.common import provider_api
from keystone.server.flask import common as flask_common
from oslo_config import cfg
from oslo_db import exception as db_exception
from pycadf import cadftaxonomy
from sqlalchemy import exc as sqlalchemy_exc

from voms_auth import errors
from voms_auth.identity import KINDS
from voms_auth.keystone import (
    access,
    audit,
    federation,
    provisioning,
    service,
)

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


class DatabaseBusy(exception.Error):
    """503 with ``Retry-After``: the identity database could not complete
    the login now (SQLite locked by another process's write, a deadlock, a
    lost connection); nothing was half-done, the same request succeeds
    later. (Keystone's own ``ServiceUnavailable`` exists only from release
    30 on, so the status is set here.)"""

    code = int(http.client.SERVICE_UNAVAILABLE)
    title = http.client.responses[http.client.SERVICE_UNAVAILABLE]

    def _build_message(self, message, **kwargs):
        return message or super()._build_message(message, **kwargs)


#: Seconds a client is told to wait after :class:`DatabaseBusy`.
RETRY_AFTER = 2

_PREPARED_KEY = 'voms_auth.prepared.%s'
_WARNED = set()

_DB_REASON = ('the login could not be completed because the identity '
              'database is busy or unavailable (see the Keystone log); '
              'try again')
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


#: Longest wait for the SQLite provisioning lock before answering 503.
SQLITE_LOCK_WAIT = 60.0


def _sqlite_file():
    """The database file when Keystone runs on SQLite, else None."""
    url = CONF.database.connection or ''
    if not url.startswith('sqlite:///'):
        return None
    path = url[len('sqlite:///'):].split('?', 1)[0]
    return path if path and path != ':memory:' else None


@contextlib.contextmanager
def _one_writer_on_sqlite():
    """On SQLite (the embedded default, documented as single-process),
    let one login at a time provision, across every process of the
    machine: SQLite admits one writer and answers the others "database is
    locked", so queueing on a lock file beside the database
    (``<db>.voms-auth.lock``, ``flock``) replaces failed retries. Nothing
    on other databases.

    :raises DatabaseBusy: the lock was not free within
        :data:`SQLITE_LOCK_WAIT` seconds.
    """
    path = _sqlite_file()
    if path is None:
        yield
        return
    with open(path + '.voms-auth.lock', 'a') as handle:
        deadline = time.monotonic() + SQLITE_LOCK_WAIT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DatabaseBusy(_DB_REASON) from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _provisioner():
    opts = CONF.voms_auth
    key = (opts.user_domain, opts.identity_provider, opts.authorization_ttl)
    provisioner = _PROVISIONERS.get(key)
    if provisioner is None:
        provisioner = _PROVISIONERS[key] = provisioning.Provisioner(*key)
    return provisioner


_PROVISIONERS = {}


def _payload_idp(auth_payload):
    """The identity provider a federation payload names, or ``None``."""
    if isinstance(auth_payload, dict):
        return auth_payload.get('identity_provider')
    return None


def _check_idp_enabled(idp):
    """Refuse an identity provider an admin disabled in Keystone (one
    Keystone does not know is fine: voms-auth's configuration defines it).

    :raises IdentityProviderDisabled: naming it.
    """
    try:
        ref = PROVIDERS.federation_api.get_idp(idp)
    except exception.IdentityProviderNotFound:
        return
    if not ref.get('enabled', True):
        raise federation.IdentityProviderDisabled(
            'identity provider %s is disabled in Keystone' % idp)


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
    """One login: identity -> access -> response.

    ``method`` is the auth method name, which is also the protocol of a
    federation URL routed here. A request is voms-auth's when
    :meth:`serves` says so; any other goes to Keystone's ``Mapped``.
    Which credential a request presents is decided by :meth:`route`
    (WebSSO or other credential sources extend it there).
    """

    method = None
    #: Keystone counts the method as primary (re-scopable) on every release.
    builtin_primary = False

    def __init__(self):
        super().__init__()
        self._keystone_mapped = None
        if self.builtin_primary:
            return
        if not is_primary_method(self.method) and self.method not in _WARNED:
            _WARNED.add(self.method)
            LOG.warning(
                'tokens issued by the %(m)s method are treated as delegated '
                'by Keystone: they cannot be re-scoped and cannot create '
                'application credentials or trusts. Add %(m)s to [auth] '
                'additional_primary_auth_methods', {'m': self.method})

    def serves(self, auth_payload):
        """Whether voms-auth serves this request: a federation payload
        naming an identity provider configured for voms-auth, or (methods
        ``voms`` and ``oidc``) no identity provider at all.

        :raises CredentialRefused: voms-auth's configuration is unusable.
        """
        idp = _payload_idp(auth_payload)
        if idp is None:
            return self.method in KINDS
        try:
            return service.get_service(CONF).federation().serves(idp)
        except errors.VomsAuthError as exc:
            self._refuse(None, exc)

    def route(self, grid, environ, auth_payload):
        """``(credential kind, identity provider or None)`` of a request
        voms-auth serves.

        :raises CredentialError: the identity provider takes nothing this
            protocol carries, or is disabled.
        """
        idp = _payload_idp(auth_payload)
        if idp is None:
            return self.method, None
        routes = grid.federation()
        kind = routes.kind(idp, self.method, grid.presents_proxy(environ))
        if idp != routes.home:  # the provisioner checks its own
            _check_idp_enabled(idp)
        return kind, idp

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
            kind, idp = self.route(grid, environ, auth_payload)
            identity = grid.identify(kind, environ, auth_payload or {})
            if idp is not None:
                grid.federation().check(idp, identity)
            with _one_writer_on_sqlite():
                user, mapped, project = access.grant(
                    identity, grid.mapping(), _provisioner(),
                    require_approval=grid.options.require_approval,
                    scope=_requested_project())
        except errors.VomsAuthError as exc:
            self._refuse(identity, exc)
        except DatabaseBusy:
            LOG.warning('%s login: the SQLite provisioning lock was not free '
                        'within %ds; answered 503', self.method,
                        SQLITE_LOCK_WAIT)
            self._notify(identity, None, cadftaxonomy.OUTCOME_FAILURE,
                         _DB_REASON)
            raise
        except (db_exception.DBError, sqlalchemy_exc.SQLAlchemyError):
            # Nothing is half-done: memberships are written in one
            # transaction and every other step is repeated by the next
            # login. Say so (503, Retry-After) instead of an HTML 500.
            LOG.exception('%s login failed on a database error', self.method)
            self._notify(identity, None, cadftaxonomy.OUTCOME_FAILURE,
                         _DB_REASON)
            raise DatabaseBusy(_DB_REASON) from None
        except exception.Error:
            raise  # Keystone's own errors keep their status
        except Exception:  # noqa: BLE001 - fail closed, never a 500
            LOG.exception('%s login failed on an unexpected error',
                          self.method)
            self._refuse(identity, errors.CredentialError(_BUG_REASON))
        environ[key] = (identity, user, mapped, project)
        return environ[key]

    def authenticate(self, auth_payload):
        if not self.serves(auth_payload):
            return self._mapped().authenticate(auth_payload)
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

    def _mapped(self):
        """Keystone's own ``Mapped`` plugin, for the identity providers
        voms-auth does not serve."""
        if self._keystone_mapped is None:
            self._keystone_mapped = keystone_mapped.Mapped()
        return self._keystone_mapped

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


class Openid(_GridMethod):
    """``openid`` (``[auth] openid = voms_auth``): Keystone's federation
    URLs with protocol ``openid``; an access token as ``Authorization:
    Bearer`` (keystoneauth1's ``v3oidc*`` plugins)."""

    method = 'openid'
    builtin_primary = True


class Mapped(_GridMethod):
    """``mapped`` (``[auth] mapped = voms_auth``): Keystone's federation
    URLs with protocol ``mapped``; a VOMS proxy as TLS client certificate
    (EGI's ``v3voms`` plugin), or an access token on an identity provider
    that takes tokens and the request presents no certificate."""

    method = 'mapped'
    builtin_primary = True


def _grid_method(name):
    """The loaded handler of auth method ``name`` when it is voms-auth's,
    else ``None``."""
    if name not in CONF.auth.methods:
        return None
    auth_core.load_auth_methods()  # idempotent; done at start-up
    try:
        handler = auth_core.get_auth_method(name)
    except exception.AuthMethodNotSupported:
        return None
    return handler if isinstance(handler, _GridMethod) else None


def provision_before_scope():
    """Flask ``before_request`` hook: run :meth:`_GridMethod.prepare` for
    the methods of a token request that voms-auth serves, before Keystone
    resolves its scope. Other requests are left alone."""
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
    for name in dict.fromkeys(m for m in methods if isinstance(m, str)):
        handler = _grid_method(name)
        payload = identity.get(name)
        payload = payload if isinstance(payload, dict) else {}
        if handler is not None and handler.serves(payload):
            handler.prepare(payload)
    return None


def transient_database_error(error):
    """Whether ``error`` (raised anywhere while serving a request) is the
    database being unavailable for a moment: SQLite's "database is locked"
    (several server processes on the embedded default), a deadlock or a
    lost connection."""
    if isinstance(error, (db_exception.DBDeadlock,
                          db_exception.DBConnectionError)):
        return True
    return provisioning._locked(error)  # noqa: SLF001 - same package


def database_busy_response(error):
    """Flask error handler: :class:`DatabaseBusy`, and a transient
    database error raised by Keystone's own code (reading a token's roles
    while another process writes, say), as a JSON 503 with
    ``Retry-After``; any other error as Keystone renders it (500)."""
    if not isinstance(error, DatabaseBusy):
        if not transient_database_error(error):
            from keystone.server.flask import application

            return application._handle_unknown_keystone_exception(error)
        LOG.warning('request failed on a transient database error, '
                    'answered 503 (Retry-After %ds): %s', RETRY_AFTER,
                    errors.printable(str(error)[:300]))
        error = DatabaseBusy(_DB_REASON)
    response = flask.jsonify({'error': {
        'code': error.code, 'title': error.title, 'message': str(error)}})
    response.status_code = error.code
    response.headers['Retry-After'] = str(RETRY_AFTER)
    return response


def _token_expiry(identity):
    """The earlier of Keystone's own expiry and the credential's (naive UTC,
    whole seconds, as Keystone keeps times)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    default = now + datetime.timedelta(seconds=CONF.token.expiration)
    expiry = min(default, identity.expires_at.astimezone(
        datetime.timezone.utc))
    return expiry.replace(tzinfo=None, microsecond=0)
