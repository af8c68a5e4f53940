"""A throwaway Keystone on SQLite with voms-auth enabled, in process.

Built exactly as a site would: a keystone.conf with ``[auth] methods`` and a
``[voms_auth]`` section, ``keystone-manage db_sync``, ``fernet_setup`` and
``bootstrap``, then Keystone's public Flask application wrapped in the
voms-auth middleware. Used by the functional tests, the benchmarks and the
demo. Requests that carry a proxy get the chain in the WSGI environ the way
mod_ssl exports it (``SSL_CLIENT_CERT``, ``SSL_CLIENT_CERT_CHAIN_n``).

Keystone's configuration is process-global: one ``LocalKeystone`` per
process.
"""

import os
import pathlib
import subprocess
import sys
import textwrap

from voms_auth.voms import pem

ADMIN_PASSWORD = 'demo-admin-secret'  # noqa: S105 - throwaway instance


def documented_methods():
    """``[auth] methods`` as the docs tell admins to write it: the default
    list of the installed Keystone release (30 added ``ec2credential``)
    with voms and oidc appended."""
    import keystone.conf.auth

    return ','.join([*keystone.conf.auth.methods.default, 'voms', 'oidc'])


def federation_methods():
    """The same with ``openid`` too, for Keystone's federation URLs (with
    :data:`FEDERATION_PLUGINS`)."""
    return documented_methods() + ',openid'


#: ``[auth] openid = voms_auth`` and ``mapped = voms_auth``: voms-auth
#: serves the federation URLs of the identity providers configured for it.
FEDERATION_PLUGINS = {'openid': 'voms_auth', 'mapped': 'voms_auth'}

_MANAGE = 'from keystone.cmd.manage import main; main()'


def pem_certificates(text):
    """The PEM certificates of a proxy file, in file order (keys skipped)."""
    return pem.split_pem_certificates(text)


def mod_ssl_environ(proxy_file):
    """The environ variables mod_ssl(+gridsite) sets for a proxy client."""
    certs = pem_certificates(pathlib.Path(proxy_file).read_text())
    environ = {'SSL_CLIENT_CERT': certs[0], 'HTTPS': 'on'}
    for index, cert in enumerate(certs[1:]):
        environ['SSL_CLIENT_CERT_CHAIN_%d' % index] = cert
    return environ


def backport_service_provider_fix():
    """Keystone 25 to 29: apply Keystone 30's fix of
    ``federation.backends.sql.Federation.get_enabled_service_providers``.

    Before 30 it returns a lazy query from inside its read session; every
    token response iterates it afterwards, which opens a transaction that
    nothing ends until garbage collection. On SQLite the next write in the
    process then fails with "database is locked" (seen after
    application-credential logins, with passwords alone too); Keystone 30
    returns ``.all()``. Backported here, in the test harness only, so the
    per-release suites test voms-auth rather than this Keystone bug (the
    docs tell sites on 25-29 about it).
    """
    import importlib.metadata

    if int(importlib.metadata.version('keystone').split('.')[0]) >= 30:
        return
    from keystone.common import sql
    from keystone.federation.backends import sql as federation_sql

    def get_enabled_service_providers(self):
        with sql.session_for_read() as session:
            return session.query(federation_sql.ServiceProviderModel).\
                filter_by(enabled=True).all()

    federation_sql.Federation.get_enabled_service_providers = \
        get_enabled_service_providers


class LocalKeystone:
    """Keystone in ``directory``, configured with the given voms-auth options.

    :param voms_auth: ``{option: value}`` for the ``[voms_auth]`` section.
    :param issuers: ``{name: {option: value}}`` for ``[voms_auth_issuer:X]``
        sections (names are listed in ``oidc_issuers`` automatically).
    :param extra: additional raw ini text appended to keystone.conf.
    :param connection: SQLAlchemy URL of Keystone's database (e.g. one from
        :meth:`tests.support.mariadb.MariaDB.create_database`); default
        SQLite in ``directory``.
    :param auth_plugins: ``{method: plugin name}`` for ``[auth]`` (e.g.
        :data:`FEDERATION_PLUGINS`).
    """

    def __init__(self, directory, voms_auth=None, issuers=None, extra='',
                 methods=None, connection=None, auth_plugins=None):
        self.directory = pathlib.Path(directory)
        self.connection = connection or 'sqlite:///%s' % (
            self.directory / 'keystone.db')
        self.voms_auth = dict(voms_auth or {})
        self.issuers = dict(issuers or {})
        self.extra = extra
        self.methods = methods or documented_methods()
        self.auth_plugins = dict(auth_plugins or {})
        self.config_file = self.directory / 'keystone.conf'
        self.app = None

    def _conf_text(self):
        d = self.directory
        options = dict(self.voms_auth)
        if self.issuers:
            options.setdefault('oidc_issuers', ','.join(self.issuers))
        lines = [textwrap.dedent(f"""\
            [DEFAULT]
            log_file = {d / 'keystone.log'}
            [database]
            connection = {self.connection}
            [token]
            provider = fernet
            [fernet_tokens]
            key_repository = {d / 'fernet-keys'}
            [fernet_receipts]
            key_repository = {d / 'fernet-keys'}
            [auth]
            methods = {self.methods}
            additional_primary_auth_methods = voms,oidc
            """)]
        lines += ['%s = %s\n' % item for item in self.auth_plugins.items()]
        lines.append('[voms_auth]\n')
        lines += ['%s = %s\n' % item for item in options.items()]
        for name, values in self.issuers.items():
            lines.append('[voms_auth_issuer:%s]\n' % name)
            lines += ['%s = %s\n' % item for item in values.items()]
        lines.append(self.extra)
        return ''.join(lines)

    def _manage(self, *args):
        subprocess.run(
            [sys.executable, '-c', _MANAGE, '--config-file',
             str(self.config_file), *args],
            check=True, capture_output=True, timeout=300)

    def setup(self):
        """Write keystone.conf and create the database and keys."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / 'fernet-keys').mkdir(mode=0o700, exist_ok=True)
        self.config_file.write_text(self._conf_text())
        self._manage('db_sync')
        user = str(os.getuid())
        group = str(os.getgid())
        self._manage('fernet_setup', '--keystone-user', user,
                     '--keystone-group', group)
        self._manage('bootstrap', '--bootstrap-password', ADMIN_PASSWORD,
                     '--bootstrap-public-url', 'http://127.0.0.1:5000/v3',
                     '--bootstrap-region-id', 'RegionOne')
        return self

    def start(self):
        """Build the in-process application (once per process)."""
        from voms_auth.keystone import wsgi

        backport_service_provider_fix()
        self.app = wsgi.initialize_application([str(self.config_file)])
        return self

    @staticmethod
    def conf():
        """Keystone's (process-global) configuration."""
        import keystone.conf

        return keystone.conf.CONF

    # -- requests -----------------------------------------------------------
    def client(self):
        return self.app.test_client()

    @staticmethod
    def _body(methods, scope=None, **method_data):
        identity = {'methods': methods}
        identity.update(method_data)
        auth = {'identity': identity}
        if scope is not None:
            auth['scope'] = scope
        return {'auth': auth}

    @staticmethod
    def project_scope(name, domain='Default'):
        return {'project': {'name': name, 'domain': {'name': domain}}}

    def voms_login(self, proxy_file, project=None, domain='Default'):
        """``POST /v3/auth/tokens`` with method ``voms``; the response."""
        scope = self.project_scope(project, domain) if project else None
        return self.client().post(
            '/v3/auth/tokens', json=self._body(['voms'], scope, voms={}),
            environ_overrides=mod_ssl_environ(proxy_file))

    def oidc_login(self, token, project=None, domain='Default',
                   bearer=False):
        """``POST /v3/auth/tokens`` with method ``oidc``; the response."""
        scope = self.project_scope(project, domain) if project else None
        if bearer:
            return self.client().post(
                '/v3/auth/tokens', json=self._body(['oidc'], scope, oidc={}),
                headers={'Authorization': 'Bearer %s' % token})
        return self.client().post(
            '/v3/auth/tokens',
            json=self._body(['oidc'], scope, oidc={'access_token': token}))

    def federation_login(self, idp, protocol, token=None, proxy_file=None,
                         environ=None):
        """``POST /v3/OS-FEDERATION/identity_providers/<idp>/protocols/
        <protocol>/auth`` as keystoneauth1's federation plugins send it:
        no body, the access token as ``Authorization: Bearer``, a proxy as
        the TLS client certificate (mod_ssl's variables); the response."""
        headers = {'Authorization': 'Bearer %s' % token} if token else {}
        overrides = dict(environ or {})
        if proxy_file:
            overrides.update(mod_ssl_environ(proxy_file))
        return self.client().post(
            '/v3/OS-FEDERATION/identity_providers/%s/protocols/%s/auth'
            % (idp, protocol), headers=headers,
            environ_overrides=overrides)

    def rescope(self, token, project, domain='Default'):
        """``POST /v3/auth/tokens`` with method ``token`` and a project
        scope; the response."""
        return self.client().post('/v3/auth/tokens', json=self._body(
            ['token'], self.project_scope(project, domain),
            token={'id': token}))

    def password_login(self, user='admin', password=ADMIN_PASSWORD,
                       project='admin'):
        body = self._body(['password'], self.project_scope(project) if
                          project else None,
                          password={'user': {'name': user,
                                             'domain': {'id': 'default'},
                                             'password': password}})
        return self.client().post('/v3/auth/tokens', json=body)

    def admin_token(self):
        response = self.password_login()
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.headers['X-Subject-Token']

    def get(self, path, token=None, **params):
        headers = {'X-Auth-Token': token or self.admin_token()}
        return self.client().get(path, headers=headers, query_string=params)

    def api(self, method, path, token=None, json=None):
        headers = {'X-Auth-Token': token or self.admin_token()}
        return self.client().open(path, method=method, headers=headers,
                                  json=json)
