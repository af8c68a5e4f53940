"""Horizon with WebSSO and Keystone's websso paths behind mod_auth_openidc.

Two parts, both served by one :class:`~tests.support.apache.ApacheKeystone`
on 127.0.0.1 over TLS (the same host certificate):

* :class:`Horizon` - the dashboard from PyPI (``openstack_dashboard``,
  the ``horizon`` release of Keystone 30's cycle, pinned in tox.ini)
  configured with ``WEBSSO_ENABLED``, ``WEBSSO_CHOICES`` and
  ``WEBSSO_IDP_MAPPING``, run by mod_wsgi in its own daemon process on a
  second ``<VirtualHost>`` (its own port). Its settings are a real
  ``local_settings.py``: ``openstack_dashboard.settings`` imports
  ``local.local_settings``, found first on the daemon's ``python-path``.
  Static files are collected and compressed once per Horizon version
  (``manage.py collectstatic`` + ``compress``, about 35 s) into the
  virtualenv and reused.
* :func:`openidc_config` - the mod_auth_openidc lines that protect
  Keystone's two websso paths for a protocol, with the OpenID Provider as
  the authorization-code relying party (the lines of
  ``doc/source/websso.rst``).

Use::

    horizon = Horizon(dir / 'horizon', idp_id='egi.eu')
    keystone = LocalKeystone(..., extra=horizon.keystone_conf()).setup()
    apache = ApacheKeystone(
        keystone, dir / 'apache', ca_path=...,
        modules=MODULES, readable=[horizon.directory],
        vhost_config=lambda a: openidc_config(a, op, AUDIENCE),
        server_config=horizon.server_config).start()
"""

import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import textwrap
import urllib.parse

from tests.support import local

#: Apache modules for the websso paths and Horizon's static files.
MODULES = (
    ('authn_core_module', 'mod_authn_core.so'),
    ('authz_user_module', 'mod_authz_user.so'),
    ('alias_module', 'mod_alias.so'),
    ('auth_openidc_module', 'mod_auth_openidc.so'),
)

#: mod_auth_openidc's redirect URI (a path it answers itself).
REDIRECT_PATH = '/v3/auth/OS-FEDERATION/oidc-redirect'


class HorizonUnavailable(RuntimeError):
    """Horizon (openstack_dashboard) is not installed in this Python."""


class StaticFilesError(RuntimeError):
    """collectstatic or compress failed."""


def horizon_version():
    """The installed Horizon's version; raises :class:`HorizonUnavailable`."""
    from importlib import metadata

    try:
        return metadata.version('horizon')
    except metadata.PackageNotFoundError:
        raise HorizonUnavailable(
            'horizon is not installed for %s (tox -e websso installs it)'
            % sys.executable) from None


def websso_paths(protocol='openid'):
    """The ``(generic, per-IdP regex)`` websso paths of ``protocol``."""
    return ('/v3/auth/OS-FEDERATION/websso/%s' % protocol,
            '^/v3/auth/OS-FEDERATION/identity_providers/[^/]+/protocols/'
            '%s/websso/?$' % protocol)


def openidc_config(apache, provider, audience, *, protocol='openid',
                   passphrase=None):
    """mod_auth_openidc lines for Keystone's ``<VirtualHost>``.

    The browser signs in at ``provider`` (code flow with PKCE, client
    ``provider.client_id``); the access token is asked for ``audience``
    (``resource``), so voms-auth checks it as any token for Keystone.
    Claims and the access token reach Keystone only in the WSGI environ
    (``OIDCPassClaimsAs environment``: ``OIDC_CLAIM_*``,
    ``OIDC_access_token``), never as request headers.
    """
    generic, per_idp = websso_paths(protocol)
    return textwrap.dedent("""\
        OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
        OIDCClientID {client_id}
        OIDCClientSecret {client_secret}
        OIDCRedirectURI {url}{redirect}
        OIDCCryptoPassphrase {passphrase}
        OIDCScope "openid profile email entitlements"
        OIDCAuthRequestParams resource={resource}
        OIDCPKCEMethod S256
        OIDCPassClaimsAs environment
        OIDCClaimPrefix OIDC_CLAIM_
        OIDCCacheDir "{d}/run"
        <Location "{redirect}">
            AuthType openid-connect
            Require valid-user
        </Location>
        <Location "{generic}">
            AuthType openid-connect
            Require valid-user
        </Location>
        <LocationMatch "{per_idp}">
            AuthType openid-connect
            Require valid-user
        </LocationMatch>
        """).format(
            issuer=provider.issuer, client_id=provider.client_id,
            client_secret=provider.client_secret, url=apache.url,
            redirect=REDIRECT_PATH, d=apache.directory,
            passphrase=passphrase or secrets.token_urlsafe(24),
            resource=urllib.parse.quote(audience, safe=''),
            generic=generic, per_idp=per_idp)


class Horizon:
    """Horizon configured for WebSSO; served by an ApacheKeystone.

    :param directory: where its ``local_settings.py`` and WSGI script go.
    :param idp_id: the Keystone identity provider id the OIDC choice uses
        (``WEBSSO_IDP_MAPPING``: the per-IdP websso URL).
    :param protocol: the federation protocol (``openid``).
    """

    CHOICE = 'egi_oidc'
    CHOICE_LABEL = 'EGI Check-in (OpenID Connect)'
    #: A choice named like the protocol, without ``WEBSSO_IDP_MAPPING``:
    #: Horizon sends it to Keystone's generic websso URL.
    GENERIC_LABEL = 'OpenID Connect (any trusted provider)'

    def __init__(self, directory, *, idp_id, protocol='openid',
                 host='127.0.0.1', port=None):
        horizon_version()
        self.directory = pathlib.Path(directory)
        self.idp_id = idp_id
        self.protocol = protocol
        self.host = host
        self.port = port or local.free_port()
        self.secret_key = secrets.token_urlsafe(40)

    @property
    def url(self):
        return 'https://%s:%d' % (self.host, self.port)

    @property
    def websso_url(self):
        """Where Keystone posts the token (``trusted_dashboard``)."""
        return self.url + '/auth/websso/'

    def keystone_conf(self):
        """keystone.conf lines for this dashboard (``[federation]``)."""
        template = (pathlib.Path(sys.prefix) / 'etc' / 'keystone'
                    / 'sso_callback_template.html')
        return textwrap.dedent("""
            [federation]
            trusted_dashboard = {websso}
            sso_callback_template = {template}
            """).format(websso=self.websso_url, template=template)

    # -- files ------------------------------------------------------------
    def local_settings(self, keystone_url, ca_file, static_root):
        """The ``local_settings.py`` text (see doc/source/websso.rst)."""
        return textwrap.dedent("""\
            # Written by tests.support.horizon.
            DEBUG = False
            ALLOWED_HOSTS = [{host!r}]
            SECRET_KEY = {secret!r}
            OPENSTACK_HOST = {host!r}
            OPENSTACK_KEYSTONE_URL = {keystone!r}
            OPENSTACK_SSL_CACERT = {ca!r}
            OPENSTACK_KEYSTONE_DEFAULT_ROLE = 'member'
            WEBSSO_ENABLED = True
            WEBSSO_INITIAL_CHOICE = {choice!r}
            WEBSSO_CHOICES = (
                ('credentials', 'Keystone Credentials'),
                ({choice!r}, {label!r}),
                ({protocol!r}, {generic!r}),
            )
            WEBSSO_IDP_MAPPING = {{{choice!r}: ({idp!r}, {protocol!r})}}
            LOGIN_REDIRECT_URL = '/identity/'
            SESSION_ENGINE = 'django.contrib.sessions.backends.cache'
            CACHES = {{'default': {{
                'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}}}
            SESSION_COOKIE_SECURE = True
            CSRF_COOKIE_SECURE = True
            STATIC_ROOT = {static!r}
            COMPRESS_OFFLINE = True
            """).format(host=self.host, secret=self.secret_key,
                        keystone=keystone_url, ca=str(ca_file),
                        choice=self.CHOICE, label=self.CHOICE_LABEL,
                        generic=self.GENERIC_LABEL,
                        idp=self.idp_id, protocol=self.protocol,
                        static=str(static_root))

    def _write(self, keystone_url, ca_file, static_root):
        package = self.directory / 'local'
        package.mkdir(parents=True, exist_ok=True)
        (package / '__init__.py').write_text('')
        (package / 'local_settings.py').write_text(
            self.local_settings(keystone_url, ca_file, static_root))
        script = self.directory / 'horizon.wsgi'
        script.write_text(textwrap.dedent("""\
            # Written by tests.support.horizon: Horizon's WSGI application.
            import os

            os.environ['DJANGO_SETTINGS_MODULE'] = \\
                'openstack_dashboard.settings'

            from django.core.wsgi import get_wsgi_application  # noqa: E402

            application = get_wsgi_application()
            """))
        for path in [self.directory, package]:
            path.chmod(0o755)
        return script

    def static_root(self):
        """Collected and compressed static files of this Horizon version,
        made once (kept in this virtualenv) and reused."""
        root = (pathlib.Path(sys.prefix) / 'var'
                / ('voms-auth-horizon-static-%s' % horizon_version()))
        if (root / 'dashboard' / 'manifest.json').exists():
            return root
        building = root.with_name(root.name + '.building')
        shutil.rmtree(building, ignore_errors=True)
        work = self.directory / 'static-settings'
        (work / 'local').mkdir(parents=True, exist_ok=True)
        (work / 'local' / '__init__.py').write_text('')
        (work / 'local' / 'local_settings.py').write_text(
            self.local_settings('https://127.0.0.1/v3', '/dev/null',
                                building))
        env = dict(os.environ, PYTHONPATH=str(work),
                   DJANGO_SETTINGS_MODULE='openstack_dashboard.settings')
        for command in (['collectstatic', '--noinput'],
                        ['compress', '--force']):
            proc = subprocess.run(
                [sys.executable, '-m', 'django', *command, '-v0'],
                env=env, capture_output=True, text=True, timeout=600,
                check=False)
            if proc.returncode != 0:
                raise StaticFilesError('%s failed: %s' % (
                    command[0], proc.stderr.strip()[-2000:]))
        shutil.rmtree(work, ignore_errors=True)
        building.rename(root)
        return root

    # -- Apache -----------------------------------------------------------
    def server_config(self, apache):
        """The ``<VirtualHost>`` serving Horizon beside ``apache``'s
        Keystone (a callable for ApacheKeystone's ``server_config``)."""
        static = self.static_root()
        script = self._write(apache.auth_url, apache.ca_file, static)
        creds = apache.credentials
        return textwrap.dedent("""\
            Listen {host}:{port}
            <VirtualHost {host}:{port}>
                SSLEngine on
                SSLCertificateFile "{cert}"
                SSLCertificateKeyFile "{key}"
                WSGIDaemonProcess horizon processes=1 threads=4 \\
                    python-path="{directory}" display-name=%{{GROUP}}
                WSGIProcessGroup horizon
                WSGIApplicationGroup %{{GLOBAL}}
                Alias /static "{static}"
                <Directory "{static}">
                    Require all granted
                </Directory>
                WSGIScriptAlias / "{script}" process-group=horizon \\
                    application-group=%{{GLOBAL}}
                <Directory "{directory}">
                    <Files "{script_name}">
                        Require all granted
                    </Files>
                </Directory>
            </VirtualHost>
            """).format(host=self.host, port=self.port,
                        cert=creds.cert_file, key=creds.key_file,
                        directory=self.directory, static=static,
                        script=script, script_name=script.name)
