"""Keystone's public WSGI application with voms-auth's scope hook and
its WebSSO refusal page.

:func:`initialize_application` builds it; :mod:`voms_auth.keystone.wsgi_api`
holds a ready ``application`` for WSGI servers (:func:`application_from_
environment`). Keystone reads its configuration as usual:
``OS_KEYSTONE_CONFIG_FILES`` / ``OS_KEYSTONE_CONFIG_DIR`` in the process
environment, else the first of oslo.config's default files
(``/etc/keystone/keystone.conf`` ...).

Under mod_wsgi, Apache's ``SetEnv`` does not reach the process environment:
it is in each request's WSGI environ only. Keystone's own entry point then
starts without a configuration and dies with a bare ``SystemExit`` (HTTP 500
on every request). Here, when the process environment names no
configuration and no default file exists, the application is built at the
first request from the variables of that request's environ; when nothing
names a readable configuration, or Keystone refuses to start, a
:class:`~voms_auth.errors.ConfigurationError` says what to do, in the
server's error log.
"""

import json
import logging
import os
import sys
import threading

from oslo_config import cfg

from voms_auth import errors

LOG = logging.getLogger(__name__)

FILES_VARIABLE = 'OS_KEYSTONE_CONFIG_FILES'
DIR_VARIABLE = 'OS_KEYSTONE_CONFIG_DIR'

_WHAT_TO_DO = (
    'Name it in the WSGI script before the application is built '
    "(os.environ['%(files)s'] = '/etc/keystone/keystone.conf'), or put it "
    'at /etc/keystone/keystone.conf. Under mod_wsgi, Apache\'s SetEnv does '
    'not reach the process environment; voms_auth/keystone/wsgi_api.py '
    'reads %(files)s and %(dir)s from the first request\'s environ '
    'instead, so SetEnv works with that script only. Restart the WSGI '
    'server afterwards.' % {'files': FILES_VARIABLE, 'dir': DIR_VARIABLE})


class KeystoneConfigNotFound(errors.ConfigurationError):
    """Nothing names a Keystone configuration file for this process."""


class KeystoneConfigUnreadable(errors.ConfigurationError):
    """A named Keystone configuration file cannot be read by this process."""


class KeystoneStartupFailed(errors.ConfigurationError):
    """Keystone stopped (``SystemExit``) while building its application."""


def config_files_from(environ):
    """The files ``OS_KEYSTONE_CONFIG_FILES`` / ``OS_KEYSTONE_CONFIG_DIR``
    in ``environ`` name, by Keystone's own rule (``;``-separated files,
    relative to the directory; ``keystone.conf`` in the directory when only
    the directory is set); ``[]`` when neither is set."""
    directory = str(environ.get(DIR_VARIABLE, '')).strip()
    files = [name.strip() for name in
             str(environ.get(FILES_VARIABLE, '')).split(';') if name.strip()]
    if directory:
        files = [os.path.join(directory, name)
                 for name in files or ['keystone.conf']]
    return files


def default_config_files():
    """The files Keystone reads when none is named: oslo.config's search
    (``~/.keystone/keystone.conf``, ``~/keystone.conf``,
    ``/etc/keystone/keystone.conf``, ``/etc/keystone.conf``)."""
    return cfg.find_config_files(project='keystone')


def check_readable(files):
    """``files`` if this process can read each of them.

    :raises KeystoneConfigUnreadable: naming the files and the user.
    """
    unreadable = [name for name in files if not os.access(name, os.R_OK)]
    if unreadable:
        raise KeystoneConfigUnreadable(
            'Keystone configuration %s cannot be read by uid %d (missing, '
            'or not readable by the user the WSGI server runs Keystone as)'
            % (', '.join(unreadable), os.getuid()))
    return list(files)


def resolve_config_files(environ):
    """The Keystone configuration files for ``environ`` (the process
    environment, or a request's WSGI environ): those its variables name,
    else the default files that exist.

    :raises KeystoneConfigNotFound: nothing names a file and no default
        file exists; the message says what to do.
    :raises KeystoneConfigUnreadable: a named file cannot be read.
    """
    files = config_files_from(environ) or default_config_files()
    if not files:
        raise KeystoneConfigNotFound(
            'no Keystone configuration: %s and %s are not set and no '
            'default file (/etc/keystone/keystone.conf) exists. %s'
            % (FILES_VARIABLE, DIR_VARIABLE, _WHAT_TO_DO))
    return check_readable(files)


def initialize_application(config_files=None):
    """Keystone's Flask application with :func:`voms_auth.keystone.handlers.
    provision_before_scope` installed.

    :param config_files: Keystone configuration files; by default those
        :func:`resolve_config_files` finds in the process environment.
    :raises KeystoneConfigNotFound, KeystoneConfigUnreadable: before
        Keystone is touched.
    :raises KeystoneStartupFailed: Keystone exited while starting (a
        missing fernet key repository, an unusable database...), instead
        of its bare ``SystemExit``.
    """
    if config_files is None:
        config_files = resolve_config_files(os.environ)
    else:
        config_files = check_readable(config_files)
    from keystone.server.flask import core as flask_core

    # Keystone parses sys.argv as its own command line; in a WSGI server
    # (or a test runner) those arguments belong to the host process.
    saved_argv = sys.argv
    sys.argv = saved_argv[:1]
    try:
        app = flask_core.initialize_application(
            name='public', config_files=config_files)
    except SystemExit as exc:
        raise KeystoneStartupFailed(
            'Keystone stopped while starting with configuration %s: %s. '
            'Its own log ([DEFAULT] log_file / log_dir there) has the '
            'details; fix it and restart the WSGI server'
            % (', '.join(config_files), _exit_reason(exc))) from None
    finally:
        sys.argv = saved_argv
    import keystone.conf
    from oslo_db import exception as db_exception
    from sqlalchemy import exc as sqlalchemy_exc

    from voms_auth import conf as voms_conf
    from voms_auth.keystone import handlers, websso

    # Our options exist from the start (admin commands, early errors).
    voms_conf.register_opts(keystone.conf.CONF)

    # Keystone resolves the requested scope before it runs auth methods:
    # provision first, so projects the mapping creates exist by then.
    app.before_request(handlers.provision_before_scope)
    # A database that is busy for a moment (SQLite under several
    # processes, a deadlock, a restarting server) is a 503 with
    # Retry-After, not an HTML 500 -- wherever in the request it shows.
    for error in (handlers.DatabaseBusy, db_exception.DBError,
                  sqlalchemy_exc.OperationalError):
        app.register_error_handler(error, handlers.database_busy_response)
    # A refused WebSSO sign-in reads as a page in the browser, not JSON.
    app.after_request(websso.refusal_page)
    return app


def _exit_reason(exc):
    if isinstance(exc.code, str):
        return exc.code
    return 'exit status %s' % exc.code


def application_from_environment():
    """The WSGI application for a server that imports a module: built now
    when the process environment or a default file names the
    configuration, else a :class:`DeferredApplication` that takes it from
    the first request's environ (Apache ``SetEnv`` under mod_wsgi).

    :raises errors.ConfigurationError: the named configuration is unusable
        (also logged, so it reaches the server's error log).
    """
    files = config_files_from(os.environ) or default_config_files()
    if not files:
        LOG.info('%s is not set in the process environment: Keystone is '
                 'built at the first request, from its environ',
                 FILES_VARIABLE)
        return DeferredApplication()
    try:
        return initialize_application(files)
    except errors.ConfigurationError as exc:
        LOG.critical('voms-auth cannot start Keystone: %s', exc)
        raise


class DeferredApplication:
    """WSGI application that builds Keystone at its first request, with the
    configuration that request's environ names (:func:`resolve_config_
    files`). If that fails the reason is logged once and every request is
    answered 500 with a JSON body pointing at the server log (the reason
    itself may name server paths); the WSGI server must be restarted after
    the configuration is fixed."""

    def __init__(self):
        self._lock = threading.Lock()
        self._app = None
        self._error = None

    def __call__(self, environ, start_response):
        if self._app is None and self._error is None:
            self._build(environ)
        if self._error is not None:
            return _misconfigured(start_response)
        return self._app(environ, start_response)

    def _build(self, environ):
        with self._lock:
            if self._app is not None or self._error is not None:
                return
            try:
                self._app = initialize_application(
                    resolve_config_files(environ))
            except errors.ConfigurationError as exc:
                self._error = exc
                LOG.critical('voms-auth cannot start Keystone: %s', exc)

    @property
    def error(self):
        """The :class:`~voms_auth.errors.ConfigurationError` that keeps
        Keystone from starting, or ``None``."""
        return self._error


_MISCONFIGURED = json.dumps({'error': {
    'code': 500, 'title': 'Internal Server Error',
    'message': 'Keystone is not configured on this server '
               '(see the server error log)'}}).encode()


def _misconfigured(start_response):
    start_response('500 Internal Server Error', [
        ('Content-Type', 'application/json'),
        ('Content-Length', str(len(_MISCONFIGURED)))])
    return [_MISCONFIGURED]
