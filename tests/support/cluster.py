"""Several Keystone server processes on one database, for race tests.

:class:`KeystoneCluster` takes a :class:`~tests.support.keystone.
LocalKeystone` that was ``setup()`` (its database should be a server such
as MariaDB: SQLite answers "database is locked" to concurrent writers) and
runs ``processes`` separate OS processes, each serving
``voms_auth.keystone.wsgi.initialize_application([config_file, override])``
with werkzeug's threaded WSGI server on its own random port on 127.0.0.1::

    keystone = LocalKeystone(dir, connection=mariadb.create_database('ks'),
                             voms_auth={...}).setup()
    with KeystoneCluster(keystone, processes=4) as cluster:
        cluster.voms_login(proxy_file, project='dteam', node=2)
        requests.get(cluster.urls[0] + '/v3', ...)

Design: plain processes rather than Apache + mod_wsgi ``processes=N``.

* Each process has its own URL, so a test decides which process serves a
  request (:meth:`KeystoneCluster.url_for` spreads them round robin) and
  can show that every process answers; behind one Apache port the daemon
  process that serves a request is not ours to pick or to see.
* Nothing to build or hand over: no mod_wsgi compiled for this Python, no
  ``www-data`` ownership of the Keystone directory, no TLS handshake per
  request (and no SHA-1 proxy problem of ECDSA test CAs, see
  :func:`tests.support.apache.add_rsa_ca`): four processes answer within
  a few seconds, and the client's CPU goes to Keystone, not to TLS.
* Proxies arrive the way voms-auth documents for a trusted front end: each
  process reads an extra configuration file (written here, listed after
  Keystone's) with ``[voms_auth] trusted_frontends = 127.0.0.1``, and a
  request carries the URL-encoded PEM chain in ``X-SSL-Client-Cert-Chain``
  (``proxy_chain`` in :mod:`voms_auth.keystone.request`). OIDC tokens use
  ``Authorization: Bearer`` as everywhere. The TLS path itself (mod_ssl +
  mod_gridsite) is covered by ``tests/e2e`` through
  :mod:`tests.support.apache`; what these tests race is provisioning,
  which is the same code either way.

Each process logs to ``keystone-<n>.log`` (Keystone) and ``server-<n>.log``
(werkzeug, stderr) in the Keystone directory. :meth:`stop` terminates and
waits for every process; it runs at exit too, and the processes ask the
kernel to end them should the test process die (``PR_SET_PDEATHSIG``; the
kernel ties that to the *thread* that started them, so start a cluster
from a thread that outlives it, such as pytest's main thread). Each
process is werkzeug's threaded server: a thread per request, so parallel
requests to one process also race inside it.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import pathlib
import re
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse

from tests.support import keystone as local_keystone
from tests.support import local

LOG = logging.getLogger(__name__)

#: The header the processes read a proxy chain from (voms-auth's default).
CHAIN_HEADER = 'X-SSL-Client-Cert-Chain'

_WORKER = textwrap.dedent("""\
    import ctypes, os, signal, sys
    try:  # end with the test process, even if it is killed
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != int(sys.argv[1]):
        sys.exit('parent gone')
    from voms_auth.keystone import wsgi
    from werkzeug.serving import make_server

    app = wsgi.initialize_application(sys.argv[3:])
    server = make_server('127.0.0.1', 0, app, threaded=True)
    with open(sys.argv[2] + '.tmp', 'w') as f:
        f.write(str(server.socket.getsockname()[1]))
    os.rename(sys.argv[2] + '.tmp', sys.argv[2])
    server.serve_forever()
    """)


class ClusterStartError(RuntimeError):
    """A Keystone process did not start or did not answer in time."""


def chain_header_value(proxy_file):
    """The ``X-SSL-Client-Cert-Chain`` value for a proxy file: its PEM
    certificates (proxy first, key left out), URL-encoded."""
    text = pathlib.Path(proxy_file).read_text()
    certs = re.findall(r'-----BEGIN CERTIFICATE-----.*?'
                       r'-----END CERTIFICATE-----\n?', text, re.S)
    return urllib.parse.quote(''.join(certs))


class KeystoneCluster:
    """``processes`` Keystone servers of one set-up LocalKeystone.

    :param keystone: a :class:`LocalKeystone` after ``setup()``. It may
        also run in this process (``start()``): both use one database.
    :param processes: number of server processes (default 4).
    :param voms_auth: more ``[voms_auth]`` options for the processes only
        (``trusted_frontends`` is set to 127.0.0.1 unless given here).
    :param extra: raw ini text for the processes' override file.
    """

    def __init__(self, keystone, processes=4, *, voms_auth=None, extra=''):
        self.keystone = keystone
        self.count = processes
        self.directory = pathlib.Path(keystone.directory)
        self.voms_auth = {'trusted_frontends': '127.0.0.1',
                          'client_cert_header': CHAIN_HEADER}
        self.voms_auth.update(voms_auth or {})
        self.extra = extra
        self.processes = []
        self.urls = []
        self._next = itertools.count()
        self._lock = threading.Lock()
        self._session = threading.local()

    # -- life cycle ---------------------------------------------------------
    def _override(self, index):
        path = self.directory / ('cluster-%d.conf' % index)
        lines = ['[DEFAULT]\n',
                 'log_file = %s\n' % (self.directory
                                      / ('keystone-%d.log' % index)),
                 '[voms_auth]\n']
        lines += ['%s = %s\n' % item for item in self.voms_auth.items()]
        lines.append(self.extra)
        path.write_text(''.join(lines))
        return path

    def start(self, timeout=120):
        """Start every process; wait until each answers ``GET /v3``."""
        if self.processes:
            return self
        atexit.register(self.stop)
        # Keep the logs to what went wrong (eventlet & co. warn at import).
        env = dict(os.environ, PYTHONWARNINGS='ignore::DeprecationWarning')
        try:
            port_files = []
            for index in range(self.count):
                port_file = self.directory / ('cluster-%d.port' % index)
                port_file.unlink(missing_ok=True)
                log = open(self.directory / ('server-%d.log' % index), 'ab')
                try:
                    proc = subprocess.Popen(
                        [sys.executable, '-c', _WORKER, str(os.getpid()),
                         str(port_file),
                         str(self.keystone.config_file),
                         str(self._override(index))],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                        env=env)
                finally:
                    log.close()
                self.processes.append(proc)
                port_files.append(port_file)
            self._wait(port_files, timeout)
        except BaseException:
            self.stop()
            raise
        LOG.info('Keystone cluster: %s', ', '.join(self.urls))
        return self

    def _wait(self, port_files, timeout):
        import requests

        deadline = time.monotonic() + timeout
        ports = [None] * len(port_files)
        while None in ports:
            for index, (proc, path) in enumerate(
                    zip(self.processes, port_files, strict=True)):
                if ports[index] is not None:
                    continue
                if proc.poll() is not None:
                    raise ClusterStartError(
                        'Keystone process %d exited with status %d before '
                        'serving\n%s' % (index, proc.returncode,
                                         self.log_tail(index)))
                try:
                    ports[index] = int(path.read_text())
                except (OSError, ValueError):
                    pass
            if None in ports:
                if time.monotonic() > deadline:
                    raise ClusterStartError(
                        'Keystone processes %s did not listen within %ds\n%s'
                        % ([i for i, p in enumerate(ports) if p is None],
                           timeout, self.log_tail()))
                time.sleep(0.1)
        self.urls = ['http://127.0.0.1:%d' % port for port in ports]
        for index, url in enumerate(self.urls):
            last = None
            while True:
                try:
                    response = requests.get(url + '/v3', timeout=30)
                    if response.status_code == 200:
                        break
                    last = 'HTTP %d: %s' % (response.status_code,
                                            response.text[:300])
                except requests.ConnectionError as exc:
                    last = str(exc)
                if time.monotonic() > deadline:
                    raise ClusterStartError(
                        'Keystone process %d did not answer GET %s/v3 within '
                        '%ds (%s)\n%s' % (index, url, timeout, last,
                                          self.log_tail(index)))
                time.sleep(0.1)

    def stop(self, timeout=20):
        """Terminate every process and wait for it (SIGKILL if need be)."""
        processes, self.processes = self.processes, []
        self.urls = []
        atexit.unregister(self.stop)
        for proc in processes:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in processes:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                LOG.warning('Keystone process %d did not stop; killing it',
                            proc.pid)
                proc.kill()
                proc.wait(10)

    close = stop

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def pids(self):
        return [proc.pid for proc in self.processes]

    # -- requests -----------------------------------------------------------
    def url_for(self, node=None):
        """Base URL of process ``node``; round robin when None."""
        if not self.urls:
            raise ClusterStartError('the cluster is not running')
        if node is None:
            with self._lock:
                node = next(self._next)
        return self.urls[node % len(self.urls)]

    def session(self):
        """A ``requests.Session`` of the calling thread."""
        import requests

        session = getattr(self._session, 'value', None)
        if session is None:
            session = self._session.value = requests.Session()
        return session

    def request(self, method, path, node=None, token=None, headers=None,
                timeout=120, **kwargs):
        all_headers = dict(headers or {})
        if token:
            all_headers['X-Auth-Token'] = token
        return self.session().request(
            method, self.url_for(node) + path, headers=all_headers,
            timeout=timeout, **kwargs)

    def voms_login(self, proxy_file, project=None, domain='Default',
                   node=None):
        """``POST /v3/auth/tokens`` with method ``voms``, the chain in the
        trusted front end's header; the ``requests`` response."""
        scope = local_keystone.LocalKeystone.project_scope(
            project, domain) if project else None
        body = local_keystone.LocalKeystone._body(['voms'], scope, voms={})
        return self.request(
            'POST', '/v3/auth/tokens', node=node, json=body,
            headers={CHAIN_HEADER: chain_header_value(proxy_file)})

    def oidc_login(self, token, project=None, domain='Default', node=None):
        """``POST /v3/auth/tokens`` with method ``oidc`` and the access
        token as ``Authorization: Bearer``."""
        scope = local_keystone.LocalKeystone.project_scope(
            project, domain) if project else None
        body = local_keystone.LocalKeystone._body(['oidc'], scope, oidc={})
        return self.request('POST', '/v3/auth/tokens', node=node, json=body,
                            headers={'Authorization': 'Bearer %s' % token})

    def password_login(self, user='admin',
                       password=local_keystone.ADMIN_PASSWORD,
                       project='admin', node=None):
        scope = local_keystone.LocalKeystone.project_scope(
            project) if project else None
        body = local_keystone.LocalKeystone._body(
            ['password'], scope,
            password={'user': {'name': user, 'domain': {'id': 'default'},
                               'password': password}})
        return self.request('POST', '/v3/auth/tokens', node=node, json=body)

    def admin_token(self, node=None):
        response = self.password_login(node=node)
        if response.status_code != 201:
            raise AssertionError('admin login failed: %d %s'
                                 % (response.status_code, response.text))
        return response.headers['X-Subject-Token']

    # -- diagnostics --------------------------------------------------------
    def log_tail(self, index=None, chars=3000):
        indexes = range(self.count) if index is None else [index]
        return local.tail_files(
            [self.directory / name for i in indexes
             for name in ('server-%d.log' % i, 'keystone-%d.log' % i)],
            chars)
