"""A private memcached for tests: 127.0.0.1, a random free port.

Debian's ``memcached`` binary, run in the foreground as a child of the test
process (never the system service)::

    with Memcached() as cache:
        conf = '[cache]\\nenabled = true\\nbackend = ' \\
               'oslo_cache.memcache_pool\\nmemcache_servers = %s\\n' \\
               % cache.address

:meth:`restart` stops it (losing everything it held, as a real restart
does) and starts it again on the same port.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import subprocess
import time

from tests.support import local

LOG = logging.getLogger(__name__)


class MemcachedUnavailable(RuntimeError):
    """The memcached binary is not installed here."""


class MemcachedStartError(RuntimeError):
    """memcached did not answer in time."""


def binary():
    """Path of Debian's ``memcached``."""
    return local.debian_binary('memcached', MemcachedUnavailable)


def unavailable_reason():
    """Why memcached cannot run here, or None."""
    return local.unavailable_reason('memcached', MemcachedUnavailable)


class Memcached:
    """memcached on ``127.0.0.1:port`` (TCP only, 64 MiB).

    Started as root it runs as ``nobody`` (memcached refuses to run as
    root without ``-u``).
    """

    def __init__(self, port=None, memory_mb=64):
        self.host = '127.0.0.1'
        self.port = port or local.free_port()
        self.memory_mb = memory_mb
        self.process = None

    @property
    def address(self):
        """``host:port`` as ``[cache] memcache_servers`` takes it."""
        return '%s:%d' % (self.host, self.port)

    def start(self, timeout=20):
        """Start memcached and wait until it answers ``version``."""
        if self.process is not None:
            return self
        args = [binary(), '-l', self.host, '-p', str(self.port), '-U', '0',
                '-m', str(self.memory_mb), '-c', '1024']
        if os.geteuid() == 0:
            args += ['-u', 'nobody']
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors='replace')
                self.process = None
                raise MemcachedStartError('memcached exited: %s' % err)
            try:
                if self.command(b'version').startswith(b'VERSION'):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise MemcachedStartError('memcached did not answer on %s '
                                          'within %ds' % (self.address,
                                                          timeout))
            time.sleep(0.05)
        LOG.info('memcached on %s', self.address)
        return self

    def command(self, line, timeout=5):
        """Send one text-protocol command; the first reply line(s)."""
        with socket.create_connection((self.host, self.port),
                                      timeout=timeout) as sock:
            sock.sendall(line + b'\r\n')
            return sock.recv(65536)

    def stats(self):
        """``{name: value}`` of ``stats`` (strings)."""
        with socket.create_connection((self.host, self.port),
                                      timeout=5) as sock:
            sock.sendall(b'stats\r\n')
            data = b''
            while not data.endswith(b'END\r\n'):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        result = {}
        for line in data.decode().splitlines():
            parts = line.split(' ', 2)
            if len(parts) == 3 and parts[0] == 'STAT':
                result[parts[1]] = parts[2]
        return result

    def stop(self, timeout=10):
        """Stop memcached (everything it held is gone)."""
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

    def restart(self):
        """Stop and start again on the same port (empty)."""
        self.stop()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
