"""Keystone with voms-auth served by a real Apache httpd, for e2e and demo.

:class:`ApacheKeystone` takes a :class:`~tests.support.keystone.
LocalKeystone` that was ``setup()`` (config, database, keys) but not started
in process, writes an Apache configuration into its own server root and
runs Debian's ``apache2`` binary on ``127.0.0.1`` over TLS with:

* mod_ssl with a host certificate made here (its CA is :attr:`ca_file`,
  the file clients pass as ``--os-cacert`` / ``verify=``);
* mod_gridsite, which makes OpenSSL 3 accept RFC 3820 proxies as client
  certificates (without it mod_ssl refuses them: verify error 40);
* mod_wsgi built for *this* Python (the ``mod_wsgi`` wheel; the
  ``LoadModule`` and ``WSGIPythonHome`` lines come from
  ``mod_wsgi-express module-config``), running
  :mod:`voms_auth.keystone.wsgi` in daemon processes.

The configuration is the one explained in
``etc/apache-keystone-voms-auth.conf``. Use::

    keystone = LocalKeystone(dir / 'keystone', voms_auth={...}).setup()
    with ApacheKeystone(keystone, dir / 'apache',
                        ca_path=pki.ca_path) as apache:
        requests.post(apache.auth_url + '/auth/tokens', json=...,
                      cert=proxy_file, verify=apache.ca_file)

When started as root, Apache's workers run as ``www-data``: the harness
hands the Keystone directory to that user and makes the directories on the
way to Python, the code and the trust material traversable by others
(``o+x``), logging every change it makes.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import logging
import os
import pathlib
import pwd
import shutil
import signal
import ssl
import stat
import subprocess
import sys
import sysconfig
import textwrap
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support import keystone as local_keystone
from tests.support import local

LOG = logging.getLogger(__name__)

MODULES_DIR = pathlib.Path('/usr/lib/apache2/modules')
#: Modules loaded from Debian's apache2 packages (mod_gridsite: gridsite).
APACHE_MODULES = (
    ('mpm_event_module', 'mod_mpm_event.so'),
    ('authz_core_module', 'mod_authz_core.so'),
    ('mime_module', 'mod_mime.so'),
    ('socache_shmcb_module', 'mod_socache_shmcb.so'),
    ('ssl_module', 'mod_ssl.so'),
    ('gridsite_module', 'mod_gridsite.so'),
)
UTC = datetime.timezone.utc


class ApacheUnavailable(RuntimeError):
    """Apache, one of its modules or mod_wsgi is not installed here."""


class ApacheStartError(RuntimeError):
    """Apache did not start or did not serve Keystone in time."""


#: Modules for the uwsgi back end (Debian's apache2 has mod_proxy_uwsgi).
UWSGI_MODULES = (
    ('proxy_module', 'mod_proxy.so'),
    ('proxy_uwsgi_module', 'mod_proxy_uwsgi.so'),
)


def uwsgi_binary():
    """The ``uwsgi`` of this Python's environment (pip ``uwsgi``, built
    for this Python), or raise :class:`ApacheUnavailable`."""
    found = pathlib.Path(sys.executable).parent / 'uwsgi'
    if not found.exists():
        raise ApacheUnavailable('uwsgi is not installed for %s (pip install '
                                'uwsgi)' % sys.executable)
    return found


def apache_binary():
    """Path of Debian's ``apache2`` binary (not the apachectl wrapper)."""
    found = shutil.which('apache2') or '/usr/sbin/apache2'
    if not os.access(found, os.X_OK):
        raise ApacheUnavailable('apache2 is not installed (Debian package '
                                'apache2; tools/install-deps.sh)')
    return found


def mod_wsgi_config():
    """``LoadModule wsgi_module`` and ``WSGIPythonHome`` for this Python.

    Asks ``mod_wsgi-express module-config`` of the environment this Python
    runs in (the ``mod_wsgi`` package, built against apache2-dev).
    """
    express = pathlib.Path(sys.executable).parent / 'mod_wsgi-express'
    command = str(express) if express.exists() else \
        shutil.which('mod_wsgi-express')
    if not command:
        raise ApacheUnavailable(
            'mod_wsgi is not installed for %s (pip install mod_wsgi; it '
            'needs apache2-dev)' % sys.executable)
    proc = subprocess.run([command, 'module-config'], capture_output=True,
                          text=True, timeout=60, check=False)
    if proc.returncode != 0 or 'LoadModule' not in proc.stdout:
        raise ApacheUnavailable('mod_wsgi-express module-config failed: %s'
                                % proc.stderr.strip()[-500:])
    return proc.stdout.strip()


def unavailable_reason():
    """Why Apache + mod_ssl + mod_gridsite + mod_wsgi cannot run, or None."""
    try:
        apache_binary()
        for _, filename in APACHE_MODULES:
            if not (MODULES_DIR / filename).exists():
                raise ApacheUnavailable('%s is missing (Debian packages '
                                        'apache2, gridsite)'
                                        % (MODULES_DIR / filename))
        mod_wsgi_config()
    except ApacheUnavailable as exc:
        return str(exc)
    return None


@dataclasses.dataclass(frozen=True)
class HostCredentials:
    """Files of the TLS server identity made by :func:`make_host_cert`."""

    ca_file: pathlib.Path
    cert_file: pathlib.Path
    key_file: pathlib.Path


def make_host_cert(directory, host='127.0.0.1', days=2):
    """A throwaway CA and a server certificate for ``host`` and localhost.

    The CA is separate from the grid CAs: clients trust it through
    ``ca_file``; Apache never accepts client certificates issued by it.
    """
    directory = pathlib.Path(directory)
    now = datetime.datetime.now(UTC).replace(microsecond=0)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'voms-auth test'),
        x509.NameAttribute(NameOID.COMMON_NAME, 'voms-auth test host CA')])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0),
                         critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=False, content_commitment=False,
              key_encipherment=False, data_encipherment=False,
              key_agreement=False, key_cert_sign=True, crl_sign=True,
              encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(
              ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName('localhost')]
    try:
        names.insert(0, x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.insert(0, x509.DNSName(host))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                           critical=True)
            .add_extension(x509.SubjectAlternativeName(names),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    credentials = HostCredentials(directory / 'host-ca.pem',
                                  directory / 'host-cert.pem',
                                  directory / 'host-key.pem')
    credentials.ca_file.write_bytes(ca.public_bytes(pem))
    credentials.cert_file.write_bytes(cert.public_bytes(pem))
    credentials.key_file.write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    credentials.key_file.chmod(0o600)
    return credentials


def _make_traversable(path, why):
    """Give others ``x`` on ``path`` and its ancestors where missing."""
    path = pathlib.Path(path).resolve()
    for directory in [*reversed(path.parents), path]:
        if not directory.is_dir():
            continue
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            LOG.warning('made %s traversable by others (o+x) so that '
                        'Apache workers reach %s', directory, why)


def _chown_tree(top, uid, gid):
    os.chown(top, uid, gid)
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid)


class ApacheKeystone:
    """Apache httpd serving ``keystone`` (a set-up LocalKeystone) over TLS.

    :param keystone: a :class:`LocalKeystone` after ``setup()``.
    :param directory: Apache's server root (created; removed by
        :meth:`close`).
    :param ca_path: the grid CA directory (``<hash>.0`` files) mod_ssl and
        mod_gridsite verify client certificates against.
    :param readable: more paths the workers must reach (mapping file,
        vomsdir...); the ``[voms_auth]`` paths of ``keystone`` are added.
    :param worker_user: user Apache's workers run as when started as root
        (default ``www-data``); ignored otherwise.
    :param gridsite: load mod_gridsite (default). ``False`` shows what
        mod_ssl alone does with proxies: it refuses them.
    :param wsgi_script: serve this WSGI script file (e.g. the installed
        ``voms_auth/keystone/wsgi_api.py``) instead of the one written
        here; Apache then gets ``OS_KEYSTONE_CONFIG_FILES`` in its
        environment, which its daemon processes inherit.
    :param modules: more ``(module name, .so file)`` pairs to load from
        Debian's module directory (e.g. mod_auth_openidc).
    :param vhost_config: more lines inside Keystone's ``<VirtualHost>``
        (e.g. ``<Location>`` blocks protected by mod_auth_openidc); a
        callable is called with this object once the port and host
        credentials are known.
    :param server_config: more lines at the end of httpd.conf (e.g. a
        second ``<VirtualHost>``); a callable likewise.
    :param extra_config_files: configuration files read after Keystone's
        (per-node options: one Keystone directory may be served by several
        Apache instances, each a node).
    :param credentials: the :class:`HostCredentials` to serve with (nodes
        behind one load balancer share one); default: made here.
    :param public_url: the URL ``keystone-manage bootstrap`` records in the
        catalog (a load balancer's); default: this Apache's.
    :param backend: ``'mod_wsgi'`` (default: Keystone in mod_wsgi daemon
        processes) or ``'uwsgi'``: the OpenStack-Ansible shape, Apache
        terminating TLS and passing requests with ``mod_proxy_uwsgi`` to a
        uwsgi server on 127.0.0.1 running
        ``voms_auth.keystone.wsgi_api:application`` (``processes``
        workers; started and stopped with Apache).
    :param uwsgi_buffer_size: uwsgi's ``--buffer-size`` (65535: a proxy
        chain exceeds uwsgi's 4096-byte default).
    """

    def __init__(self, keystone, directory, *, ca_path, host='127.0.0.1',
                 port=None, readable=(), worker_user='www-data',
                 processes=2, threads=4, gridsite=True, wsgi_script=None,
                 modules=(), vhost_config='', server_config='',
                 extra_config_files=(), credentials=None, public_url=None,
                 backend='mod_wsgi', uwsgi_buffer_size=65535):
        self.keystone = keystone
        self.directory = pathlib.Path(directory)
        self.ca_path = pathlib.Path(ca_path)
        self.host = host
        self.port = port or local.free_port()
        self.readable = [pathlib.Path(p) for p in readable]
        for value in keystone.voms_auth.values():
            if isinstance(value, (str, pathlib.Path)) and \
                    os.path.isabs(str(value)) and os.path.exists(value):
                self.readable.append(pathlib.Path(value))
        self.worker_user = worker_user if os.geteuid() == 0 else None
        self.processes = processes
        self.threads = threads
        self.gridsite = gridsite
        self.wsgi_script = pathlib.Path(wsgi_script) if wsgi_script else None
        self.modules = tuple(modules)
        self.vhost_config = vhost_config
        self.server_config = server_config
        if backend not in ('mod_wsgi', 'uwsgi'):
            raise ValueError('backend must be mod_wsgi or uwsgi')
        self.backend = backend
        self.uwsgi_buffer_size = uwsgi_buffer_size
        self.uwsgi_port = local.free_port() if backend == 'uwsgi' else None
        self.uwsgi_log = self.directory / 'logs' / 'uwsgi.log'
        self._uwsgi = None
        self.config_file = self.directory / 'httpd.conf'
        self.error_log = self.directory / 'logs' / 'error.log'
        self.pid_file = self.directory / 'run' / 'httpd.pid'
        self.extra_config_files = [pathlib.Path(p)
                                   for p in extra_config_files]
        self.credentials = credentials
        self.public_url = public_url
        self._started = False

    # -- addresses ----------------------------------------------------------
    @property
    def url(self):
        return 'https://%s:%d' % (self.host, self.port)

    @property
    def auth_url(self):
        """Keystone's v3 URL, as given to ``--os-auth-url``."""
        return self.url + '/v3'

    @property
    def ca_file(self):
        """CA file clients verify the server with (``--os-cacert``)."""
        return self.credentials.ca_file

    # -- configuration --------------------------------------------------
    @property
    def config_files(self):
        """Keystone's configuration files, as ``OS_KEYSTONE_CONFIG_FILES``
        lists them (``;``-separated)."""
        return ';'.join(str(p) for p in [self.keystone.config_file,
                                         *self.extra_config_files])

    def _wsgi_script(self):
        if self.wsgi_script is not None:
            return self.wsgi_script
        script = self.directory / 'keystone.wsgi'
        script.write_text(textwrap.dedent(f"""\
            # Written by tests.support.apache: Keystone + voms-auth.
            import os

            os.environ['OS_KEYSTONE_CONFIG_FILES'] = \\
                {self.config_files!r}

            from voms_auth.keystone import wsgi  # noqa: E402

            application = wsgi.initialize_application()
            """))
        return script

    def config_text(self):
        """The httpd.conf this harness runs (same lines as the etc/ sample,
        minus what a system install gets from Debian's apache2.conf)."""
        d = self.directory
        modules = ''.join('LoadModule %s %s\n' % (name, MODULES_DIR / so)
                          for name, so in APACHE_MODULES + self.modules
                          if self.gridsite or name != 'gridsite_module')
        if self.backend == 'uwsgi':
            modules += ''.join('LoadModule %s %s\n' % (name, MODULES_DIR / so)
                               for name, so in UWSGI_MODULES)
        user = ''
        if self.worker_user:
            user = 'User %s\nGroup %s\n' % (
                self.worker_user,
                _group_name(pwd.getpwnam(self.worker_user).pw_gid))
        creds = self.credentials
        if self.backend == 'uwsgi':
            wsgi = ''
            # OpenStack-Ansible shape: mod_proxy_uwsgi passes the request
            # and its variables (SSL_CLIENT_CERT, ..._CHAIN_n) to uwsgi.
            app = '    ProxyPass / uwsgi://127.0.0.1:%d/\n' % self.uwsgi_port
        else:
            wsgi = mod_wsgi_config() + '\nWSGISocketPrefix "%s/run/wsgi"' % d
            app = self._mod_wsgi_lines()
        return textwrap.dedent("""\
            # Written by tests.support.apache; explained in
            # etc/apache-keystone-voms-auth.conf.
            ServerRoot "{d}"
            ServerName {host}
            Listen {host}:{port}
            PidFile "{d}/run/httpd.pid"
            DefaultRuntimeDir "{d}/run"
            ErrorLog "{d}/logs/error.log"
            LogLevel warn ssl:info
            {user}{modules}{wsgi}
            LogFormat "%h %u \\"%r\\" %>s %b %D" short
            CustomLog "{d}/logs/access.log" short
            TypesConfig /etc/mime.types
            SSLSessionCache "shmcb:{d}/run/ssl_scache(512000)"
            <IfModule mod_gridsite.c>
                GridSiteSessionsDir "{d}/run/gridsite-sessions"
            </IfModule>

            <VirtualHost {host}:{port}>
                SSLEngine on
                SSLCertificateFile "{cert}"
                SSLCertificateKeyFile "{key}"
                SSLCACertificatePath "{ca_path}"
                SSLVerifyClient optional
                SSLVerifyDepth 10
                SSLOptions +ExportCertData +StdEnvVars

            {app}
            {vhost_extra}
            </VirtualHost>
            {server_extra}
            """).format(d=d, host=self.host, port=self.port, user=user,
                        modules=modules, wsgi=wsgi, app=app,
                        cert=creds.cert_file, key=creds.key_file,
                        ca_path=self.ca_path,
                        vhost_extra=textwrap.indent(
                            self._extra(self.vhost_config), ' ' * 4),
                        server_extra=self._extra(self.server_config))

    def _mod_wsgi_lines(self):
        script = self._wsgi_script()
        return textwrap.dedent("""\
                WSGIDaemonProcess keystone-voms-auth processes={processes} \\
                    threads={threads} display-name=%{{GROUP}}
                WSGIProcessGroup keystone-voms-auth
                WSGIApplicationGroup %{{GLOBAL}}
                WSGIPassAuthorization On
                WSGIScriptAlias / "{script}" \\
                    process-group=keystone-voms-auth \\
                    application-group=%{{GLOBAL}}
                <Directory "{script_dir}">
                    <Files "{script_name}">
                        Require all granted
                    </Files>
                </Directory>""").format(
            processes=self.processes, threads=self.threads, script=script,
            script_dir=script.parent, script_name=script.name)

    def uwsgi_command(self):
        """The uwsgi command line of the ``uwsgi`` back end: Keystone
        through ``voms_auth.keystone.wsgi_api``, the configuration named
        in its environment, a buffer large enough for a proxy chain."""
        return [str(uwsgi_binary()), '--master', '--die-on-term',
                '--need-app', '--lazy-apps',
                '--socket', '127.0.0.1:%d' % self.uwsgi_port,
                '--processes', str(self.processes), '--threads', '1',
                '--buffer-size', str(self.uwsgi_buffer_size),
                '--home', sys.prefix,
                '--env', 'OS_KEYSTONE_CONFIG_FILES=%s'
                % self.keystone.config_file,
                '--module', 'voms_auth.keystone.wsgi_api:application',
                '--logto', str(self.uwsgi_log)]

    def _start_uwsgi(self):
        env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'LANG': 'C',
               'HOME': str(self.directory)}
        self._uwsgi = subprocess.Popen(
            self.uwsgi_command(), env=env, cwd=self.directory,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        LOG.info('uwsgi (pid %d) serving Keystone on 127.0.0.1:%d',
                 self._uwsgi.pid, self.uwsgi_port)

    def _stop_uwsgi(self, timeout=30):
        if self._uwsgi is None:
            return
        self._uwsgi.terminate()
        try:
            self._uwsgi.wait(timeout)
        except subprocess.TimeoutExpired:
            LOG.warning('uwsgi (pid %d) did not stop; killing it',
                        self._uwsgi.pid)
            self._uwsgi.kill()
            self._uwsgi.wait(timeout)
        self._uwsgi = None

    def _extra(self, config):
        text = config(self) if callable(config) else config
        return textwrap.dedent(text or '').strip()

    def _prepare(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        for sub in ('logs', 'run', 'run/gridsite-sessions'):
            (self.directory / sub).mkdir(exist_ok=True)
        self.directory.chmod(0o755)
        if self.credentials is None:
            self.credentials = make_host_cert(self.directory, self.host)
        # The catalog should name where Keystone really is.
        subprocess.run(
            [sys.executable, '-c', local_keystone._MANAGE, '--config-file',
             str(self.keystone.config_file), 'bootstrap',
             '--bootstrap-password', local_keystone.ADMIN_PASSWORD,
             '--bootstrap-public-url', self.public_url or self.auth_url,
             '--bootstrap-region-id', 'RegionOne'],
            check=True, capture_output=True, timeout=300)
        self.config_file.write_text(self.config_text())
        if self.worker_user:
            self._open_to_workers()

    def _open_to_workers(self):
        account = pwd.getpwnam(self.worker_user)
        _chown_tree(self.keystone.directory, account.pw_uid, account.pw_gid)
        LOG.info('handed %s to %s (Keystone writes its database, keys and '
                 'log there)', self.keystone.directory, self.worker_user)
        import keystone as keystone_pkg

        import voms_auth

        paths = {
            'Python': [sys.base_prefix, sys.prefix,
                       sysconfig.get_paths()['stdlib'],
                       sysconfig.get_paths()['purelib']],
            'the voms_auth code': [pathlib.Path(voms_auth.__file__).parent],
            'the keystone code': [
                pathlib.Path(keystone_pkg.__file__).parent],
            'the Keystone directory': [self.keystone.directory],
            'the WSGI script': [self.directory],
            'the grid trust material': [self.ca_path, *self.readable],
            'the node configuration': self.extra_config_files,
            'the host credentials': [self.credentials.cert_file],
        }
        for why, items in paths.items():
            for item in items:
                _make_traversable(item if os.path.isdir(item)
                                  else os.path.dirname(item), why)
        for sample in (pathlib.Path(voms_auth.__file__),
                       pathlib.Path(keystone_pkg.__file__),
                       pathlib.Path(os.__file__)):
            if not sample.stat().st_mode & stat.S_IROTH:
                raise ApacheStartError(
                    '%s is not readable by others, so Apache workers '
                    'running as %s cannot import it (checked out or '
                    'installed with umask 077?)' % (sample, self.worker_user))

    # -- life cycle ---------------------------------------------------------
    def _apache(self, *args):
        env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
               'LANG': 'C'}
        if self.wsgi_script is not None:
            env['OS_KEYSTONE_CONFIG_FILES'] = self.config_files
        return subprocess.run(
            [apache_binary(), '-d', str(self.directory), '-f',
             str(self.config_file), *args],
            capture_output=True, text=True, timeout=60, env=env,
            check=False)

    def start(self, timeout=90):
        """Write the configuration, start Apache, wait until Keystone
        answers ``GET /v3``."""
        if self._started:
            return self
        reason = unavailable_reason()
        if reason:
            raise ApacheUnavailable(reason)
        for _, filename in self.modules:
            if not (MODULES_DIR / filename).exists():
                raise ApacheUnavailable('%s is missing (tools/install-deps.sh)'
                                        % (MODULES_DIR / filename))
        if self.backend == 'uwsgi':
            uwsgi_binary()
        self._prepare()
        check = self._apache('-t')
        if check.returncode != 0:
            raise ApacheStartError('configuration test failed: %s'
                                   % (check.stderr or check.stdout))
        if self.backend == 'uwsgi':
            self._start_uwsgi()
        proc = self._apache('-k', 'start')
        if proc.returncode != 0:
            self._stop_uwsgi()
            raise ApacheStartError('apache2 -k start failed: %s\n%s'
                                   % (proc.stderr, self.log_tail()))
        self._started = True
        LOG.info('Apache serving Keystone at %s (server root %s)',
                 self.auth_url, self.directory)
        try:
            self._wait(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def _wait(self, timeout):
        import requests

        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                response = requests.get(self.auth_url, timeout=30,
                                        verify=str(self.ca_file))
                if response.status_code == 200:
                    return
                last = 'HTTP %d: %s' % (response.status_code,
                                        response.text[:300])
            except (requests.ConnectionError, requests.Timeout,
                    ssl.SSLError) as exc:
                # a loaded machine: the first request waits for Keystone
                # to start in the daemon process; ask again until timeout
                last = str(exc)
            time.sleep(0.2)
        raise ApacheStartError('Keystone behind Apache did not answer on %s '
                               'within %ds (%s)\n%s' % (
                                   self.auth_url, timeout, last,
                                   self.log_tail()))

    def _pid(self):
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout=30):
        """Stop Apache (``-k stop``) and wait for its processes to end;
        then uwsgi, if it is the back end."""
        self._stop_uwsgi(timeout)
        if not self._started:
            return
        pid = self._pid()
        self._apache('-k', 'stop')
        deadline = time.monotonic() + timeout
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            if pid:
                LOG.warning('Apache (pid %d) did not stop; killing it', pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._started = False

    def kill(self):
        """SIGKILL Apache and every process it started (its process
        group: the parent detached into its own session, its workers and
        mod_wsgi daemons are in it), as when the node dies."""
        pid = self._pid()
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid_file.unlink(missing_ok=True)
        self._started = False

    def restart(self, timeout=90):
        """Start Apache again after :meth:`kill` or :meth:`stop` (same
        configuration, port and credentials)."""
        if self._started:
            return self
        proc = self._apache('-k', 'start')
        if proc.returncode != 0:
            raise ApacheStartError('apache2 -k start failed: %s\n%s'
                                   % (proc.stderr, self.log_tail()))
        self._started = True
        self._wait(timeout)
        return self

    def close(self, remove=True):
        """Stop Apache and remove the server root."""
        self.stop()
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- diagnostics --------------------------------------------------------
    def log_tail(self, chars=4000):
        """The end of Apache's error log and Keystone's log."""
        return local.tail_files(
            (self.error_log, self.uwsgi_log,
             self.keystone.directory / 'keystone.log'), chars)


def _group_name(gid):
    import grp

    return grp.getgrgid(gid).gr_name


def add_rsa_ca(pki, label='Example RSA CA', org='rsa'):
    """Add a trusted RSA root CA to a :class:`~tests.support.pki.
    GridPKI`; users it issues get proxies that pass OpenSSL 3's TLS checks.

    voms-proxy-fake and voms-proxy-init (2.1) sign a proxy with the digest
    of the user certificate's own signature; for an ECDSA-signed user
    certificate (GridPKI's CAs use EC keys by default) they fall back to
    SHA-1, and OpenSSL 3 at its default security level refuses SHA-1
    signatures in a TLS certificate chain (client: ``CA_MD_TOO_WEAK``).
    IGTF CAs sign with RSA and SHA-256, so their users' proxies are SHA-256.
    """
    return pki.add_ca(label, org=org, key_type='rsa')
