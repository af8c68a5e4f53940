"""HAProxy in TCP mode in front of several Keystone nodes, for tests.

Debian's ``haproxy`` binary, in the foreground (``-db``) as a child of the
test process, on ``127.0.0.1`` and a random free port. TCP mode passes the
TLS connection through untouched, so each node's mod_ssl + mod_gridsite
sees the client's proxy certificate chain (a TLS-terminating balancer
would not pass it on). A TLS health check (``GET /v3`` expecting 200,
every ``inter`` seconds, the host CA verified) takes a dead node out of the
rotation; ``option redispatch`` with ``retries`` sends a connection that
failed to connect to the other node::

    with HAProxy([(host, port0), (host, port1)], ca_file=host_ca) as lb:
        requests.post(lb.url + '/v3/auth/tokens', ..., cert=proxy,
                      verify=host_ca)

The configuration is the one documented in ``doc/source/multinode.rst``.
"""

from __future__ import annotations

import atexit
import logging
import pathlib
import socket
import subprocess
import textwrap
import time

from tests.support import local

LOG = logging.getLogger(__name__)


class HAProxyUnavailable(RuntimeError):
    """haproxy is not installed here."""


class HAProxyStartError(RuntimeError):
    """haproxy refused its configuration or did not listen in time."""


def binary():
    """Path of Debian's ``haproxy``."""
    return local.debian_binary('haproxy', HAProxyUnavailable)


def unavailable_reason():
    """Why haproxy cannot run here, or None."""
    return local.unavailable_reason('haproxy', HAProxyUnavailable)


class HAProxy:
    """HAProxy balancing TCP connections round robin over ``servers``.

    :param servers: ``[(host, port), ...]`` of the nodes (TLS).
    :param directory: holds ``haproxy.cfg``, the stats socket and the log.
    :param ca_file: CA of the nodes' server certificates, verified by the
        health check.
    :param check_interval: seconds between health checks of a node.
    """

    def __init__(self, servers, directory, *, ca_file, port=None,
                 check_interval=1.0):
        self.servers = list(servers)
        self.directory = pathlib.Path(directory)
        self.ca_file = pathlib.Path(ca_file)
        self.host = '127.0.0.1'
        self.port = port or local.free_port()
        self.check_interval = check_interval
        self.config_file = self.directory / 'haproxy.cfg'
        self.stats_socket = self.directory / 'haproxy.sock'
        self.log_file = self.directory / 'haproxy.log'
        self.process = None

    @property
    def url(self):
        return 'https://%s:%d' % (self.host, self.port)

    @property
    def auth_url(self):
        return self.url + '/v3'

    def config_text(self):
        """The haproxy.cfg this harness runs."""
        inter = '%dms' % int(self.check_interval * 1000)
        servers = ''.join(
            '    server node%d %s:%d\n' % (index, host, port)
            for index, (host, port) in enumerate(self.servers))
        return textwrap.dedent("""\
            # Written by tests.support.haproxy (doc/source/multinode.rst).
            global
                maxconn 4096
                stats socket {sock} mode 600 level admin

            defaults
                mode tcp
                timeout connect 5s
                timeout client 300s
                timeout server 300s
                # a node busy with a burst of logins answers slowly; only
                # a node that does not answer at all is taken out
                timeout check 10s
                # a connection to a dead node is retried on another one
                retries 3
                option redispatch

            frontend keystone
                bind {host}:{port}
                default_backend keystone_nodes

            backend keystone_nodes
                balance roundrobin
                # TLS health check: Keystone answers GET /v3 with 200
                option httpchk GET /v3
                http-check expect status 200
                default-server check check-ssl ca-file {ca} verify required \
            inter {inter} fall 3 rise 2
            """).format(sock=self.stats_socket, host=self.host,
                        port=self.port, ca=self.ca_file, inter=inter) \
            + servers

    def start(self, timeout=30):
        """Write the configuration, start haproxy, wait until it listens
        and sees every node up."""
        if self.process is not None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.config_text())
        check = subprocess.run([binary(), '-c', '-f', str(self.config_file)],
                               capture_output=True, text=True, timeout=30,
                               check=False)
        if check.returncode != 0:
            raise HAProxyStartError('haproxy -c refused %s: %s' % (
                self.config_file, check.stdout + check.stderr))
        log = open(self.log_file, 'ab')
        try:
            self.process = subprocess.Popen(
                [binary(), '-db', '-f', str(self.config_file)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        finally:
            log.close()
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                self.process = None
                raise HAProxyStartError('haproxy exited:\n%s'
                                        % self.log_tail())
            try:
                if all(state == 'UP' for state in self.states().values()) \
                        and self.states():
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                states = self._safe_states()
                self.stop()
                raise HAProxyStartError('haproxy: nodes not all up within '
                                        '%ds: %s\n%s' % (timeout, states,
                                                         self.log_tail()))
            time.sleep(0.1)
        LOG.info('HAProxy (TCP) on %s:%d in front of %s', self.host,
                 self.port, self.servers)
        return self

    def _safe_states(self):
        try:
            return self.states()
        except OSError as exc:
            return str(exc)

    def states(self):
        """``{server name: status}`` (``UP``, ``DOWN``, ...) of the nodes,
        from the stats socket."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.stats_socket))
            sock.sendall(b'show stat\n')
            data = b''
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        lines = data.decode().splitlines()
        if not lines:
            return {}
        header = lines[0].lstrip('# ').split(',')
        result = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(','), strict=False))
            if row.get('pxname') == 'keystone_nodes' and \
                    row.get('svname', '').startswith('node'):
                result[row['svname']] = row.get('status', '')
        return result

    def wait_for(self, node, status, timeout=30):
        """Wait until ``node`` (e.g. ``node0``) has ``status`` (a prefix:
        ``UP`` matches ``UP 1/2`` too)."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.states().get(node, '')
            if current.startswith(status):
                return
            if time.monotonic() > deadline:
                raise AssertionError('%s is %r, not %s, after %ds' % (
                    node, current, status, timeout))
            time.sleep(0.1)

    def stop(self, timeout=10):
        process, self.process = self.process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    close = stop

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log_tail(self, chars=3000):
        return local.tail_files([self.log_file], chars)
