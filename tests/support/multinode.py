"""Two (or more) Keystone nodes behind HAProxy, on one MariaDB and memcached.

The shape of a production Keystone with voms-auth
(``doc/source/multinode.rst``)::

    client --TLS--> HAProxy (TCP mode) --TLS--> node0: Apache + mod_ssl +
                                                mod_gridsite + mod_wsgi
                                                (processes > 1)
                                        --TLS--> node1: likewise
    node0, node1 --> one private MariaDB (tests.support.mariadb)
                 --> one memcached ([cache] backend oslo_cache.memcache_pool)

What the nodes share, as at a site: the Keystone configuration and fernet
keys (one Keystone directory), the database, memcached, the grid trust
directory and the host certificate (one TLS identity behind one name).
What each node has of its own: its Apache (server root, port, processes)
and a node configuration file read after Keystone's (its own log file and
its own copy of the mapping file, as each machine of a site keeps one).

:class:`MultiNodeKeystone` starts everything on 127.0.0.1 (random ports)
and stops it all; :meth:`MultiNodeKeystone.login` sends a login through
HAProxy on a fresh connection (HAProxy balances connections round robin,
so consecutive logins alternate nodes); :meth:`node_login` goes to one
node directly.
"""

from __future__ import annotations

import json
import logging
import pathlib
import shutil

import requests

from tests.support import apache as apache_harness
from tests.support import haproxy as haproxy_harness
from tests.support import keystone as local_keystone
from tests.support import local
from tests.support import mariadb as mariadb_harness
from tests.support import memcached as memcached_harness

LOG = logging.getLogger(__name__)


def unavailable_reason():
    """Why the cluster cannot run here (a missing package), or None."""
    for module in (apache_harness, haproxy_harness, memcached_harness,
                   mariadb_harness):
        reason = module.unavailable_reason()
        if reason:
            return reason
    return None


def cache_config(memcached_address):
    """Keystone's ``[cache]`` section for one memcached, as a site writes
    it; a dead server is retried after 5 s (default 300 s)."""
    return ('[cache]\n'
            'enabled = true\n'
            'backend = oslo_cache.memcache_pool\n'
            'memcache_servers = %s\n'
            'memcache_dead_retry = 5\n'
            'memcache_socket_timeout = 1\n'
            'memcache_pool_connection_get_timeout = 5\n'
            % memcached_address)


class MultiNodeKeystone:
    """``nodes`` Apache Keystone nodes behind HAProxy on MariaDB + memcached.

    :param directory: everything goes here (created).
    :param pki: the :class:`~tests.support.pki.GridPKI` (its ``ca_path``
        and ``vomsdir`` are the nodes' trust directories).
    :param mapping: the mapping (a dict) every node starts with; each
        node keeps its own copy (:meth:`write_mapping`).
    :param voms_auth: ``[voms_auth]`` options of every node.
    :param issuers: OIDC issuers, as for :class:`LocalKeystone`.
    :param processes: ``WSGIDaemonProcess processes`` of each node.
    :param start_timeout: seconds a node may take to answer ``GET /v3``.
    """

    def __init__(self, directory, *, pki, mapping, voms_auth=None,
                 issuers=None, nodes=2, processes=2, threads=8,
                 start_timeout=300):
        self.directory = pathlib.Path(directory)
        self.pki = pki
        self.mapping = mapping
        self.voms_auth = dict(voms_auth or {})
        self.issuers = issuers
        self.count = nodes
        self.processes = processes
        self.threads = threads
        self.start_timeout = start_timeout
        self.mariadb = None
        self.memcached = None
        self.keystone = None
        self.nodes = []
        self.haproxy = None
        self.credentials = None

    # -- life cycle ---------------------------------------------------------
    def mapping_file(self, index):
        return self.directory / ('node-%d' % index) / 'mapping.json'

    def write_mapping(self, mapping, nodes=None):
        """Write ``mapping`` to the mapping file of ``nodes`` (default
        all), atomically (rename), as a configuration tool would."""
        for index in (range(self.count) if nodes is None else nodes):
            path = self.mapping_file(index)
            tmp = path.with_suffix('.tmp')
            tmp.write_text(json.dumps(mapping, indent=2))
            tmp.chmod(0o644)
            tmp.replace(path)

    def _node_config(self, index):
        path = self.directory / ('node-%d' % index) / 'node.conf'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o755)
        path.write_text(
            '[DEFAULT]\nlog_file = %s\n[voms_auth]\nmapping_file = %s\n'
            % (self.keystone_dir / ('keystone-node%d.log' % index),
               self.mapping_file(index)))
        path.chmod(0o644)
        return path

    @property
    def keystone_dir(self):
        return self.directory / 'keystone'

    def start(self):
        """Start MariaDB, memcached, the nodes and HAProxy."""
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        self.mariadb = mariadb_harness.MariaDB(
            self.directory / 'mariadb').start()
        connection = self.mariadb.create_database('keystone')
        self.memcached = memcached_harness.Memcached().start()
        configs = []
        for index in range(self.count):
            configs.append(self._node_config(index))
        self.write_mapping(self.mapping)
        voms_auth = {'ca_path': self.pki.ca_path, 'vomsdir': self.pki.vomsdir}
        voms_auth.update(self.voms_auth)
        self.keystone = local_keystone.LocalKeystone(
            self.keystone_dir, connection=connection, voms_auth=voms_auth,
            issuers=self.issuers,
            extra=cache_config(self.memcached.address)
            + '[database]\nmax_pool_size = 10\nmax_overflow = 50\n'
              'pool_timeout = 60\n').setup()
        host_dir = self.directory / 'host'
        host_dir.mkdir(exist_ok=True)
        self.credentials = apache_harness.make_host_cert(host_dir)
        lb_port = local.free_port()
        for index in range(self.count):
            node = apache_harness.ApacheKeystone(
                self.keystone, self.directory / ('node-%d' % index) /
                'apache', ca_path=self.pki.ca_path,
                processes=self.processes, threads=self.threads,
                extra_config_files=[configs[index]],
                credentials=self.credentials,
                readable=[self.mapping_file(index)],
                public_url='https://127.0.0.1:%d/v3' % lb_port)
            self.nodes.append(node)
            # mod_wsgi daemons import Keystone before the first answer:
            # slow on a busy machine
            node.start(timeout=self.start_timeout)
        self.haproxy = haproxy_harness.HAProxy(
            [(node.host, node.port) for node in self.nodes],
            self.directory / 'haproxy', ca_file=self.credentials.ca_file,
            port=lb_port).start()

    def stop(self):
        """Stop everything that was started (logs are kept)."""
        if self.haproxy is not None:
            self.haproxy.stop()
        for node in self.nodes:
            node.stop()
        if self.memcached is not None:
            self.memcached.stop()
        if self.mariadb is not None:
            self.mariadb.stop()

    def close(self, remove=False):
        self.stop()
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- requests -----------------------------------------------------------
    @property
    def url(self):
        """The balancer's URL (what clients use)."""
        return self.haproxy.url

    @property
    def ca_file(self):
        return str(self.credentials.ca_file)

    def base_url(self, node=None):
        return self.url if node is None else self.nodes[node].url

    def request(self, method, path, *, node=None, token=None, cert=None,
                timeout=120, session=None, **kwargs):
        """One request on a fresh TLS connection (through HAProxy, or to
        ``node``); ``requests`` response."""
        headers = dict(kwargs.pop('headers', None) or {})
        if token:
            headers['X-Auth-Token'] = token
        send = session.request if session is not None else requests.request
        return send(method, self.base_url(node) + path, headers=headers,
                    cert=str(cert) if cert else None, verify=self.ca_file,
                    timeout=timeout, **kwargs)

    def voms_login(self, proxy, project=None, node=None, **kwargs):
        """``POST /v3/auth/tokens``, method ``voms``, the proxy as the TLS
        client certificate."""
        scope = local_keystone.LocalKeystone.project_scope(project) \
            if project else None
        body = local_keystone.LocalKeystone._body(['voms'], scope, voms={})
        return self.request('POST', '/v3/auth/tokens', node=node,
                            cert=proxy, json=body, **kwargs)

    def oidc_login(self, token, project=None, node=None, **kwargs):
        scope = local_keystone.LocalKeystone.project_scope(project) \
            if project else None
        body = local_keystone.LocalKeystone._body(['oidc'], scope, oidc={})
        return self.request('POST', '/v3/auth/tokens', node=node, json=body,
                            headers={'Authorization': 'Bearer %s' % token},
                            **kwargs)

    def password_login(self, user='admin',
                       password=local_keystone.ADMIN_PASSWORD,
                       project='admin', node=None, **kwargs):
        scope = local_keystone.LocalKeystone.project_scope(project) \
            if project else None
        body = local_keystone.LocalKeystone._body(
            ['password'], scope,
            password={'user': {'name': user, 'domain': {'id': 'default'},
                               'password': password}})
        return self.request('POST', '/v3/auth/tokens', node=node, json=body,
                            **kwargs)

    def admin_token(self, node=None):
        response = self.password_login(node=node)
        if response.status_code != 201:
            raise AssertionError('admin login failed: %d %s'
                                 % (response.status_code, response.text))
        return response.headers['X-Subject-Token']

    def served_by(self):
        """``[requests served by node i]`` from the Apache access logs
        (the login path only; Apache writes a line just after answering)."""
        counts = []
        for node in self.nodes:
            log = node.directory / 'logs' / 'access.log'
            try:
                text = log.read_text(errors='replace')
            except OSError:
                text = ''
            counts.append(text.count('POST /v3/auth/tokens'))
        return counts

    # -- the database, read directly ----------------------------------------
    def query(self, sql, args=None):
        return self.mariadb.query(sql, args, database='keystone')

    def log_tail(self, chars=3000):
        parts = [node.log_tail(chars) for node in self.nodes]
        parts.append(local.tail_files(
            sorted(self.keystone_dir.glob('keystone-node*.log')), chars))
        if self.haproxy is not None:
            parts.append(self.haproxy.log_tail(chars))
        return '\n'.join(parts)
