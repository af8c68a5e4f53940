"""HTTP to identity providers with a total deadline per call.

``requests`` timeouts bound each socket operation, not a call: a provider
that trickles its answer one byte a second (headers or body) holds the
caller for as long as it likes. :class:`Http` gives every call one
deadline for connect, TLS, request, headers and body together: a watchdog
shuts the call's socket down when the deadline passes, which ends any read
in progress. Answers are read into memory up to :data:`MAX_BODY` bytes.
"""

import dataclasses
import socket
import threading
import time

import requests
import requests.adapters
from urllib3 import connection as urllib3_connection
from urllib3 import connectionpool

from voms_auth.oidc import errors

#: Largest provider answer read (discovery, JWKS, introspection, userinfo
#: are a few kB).
MAX_BODY = 1 << 20

_CHUNK = 16384

_local = threading.local()


class _Call:
    """One outbound call: its deadline and the sockets it uses."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self._done = False
        self._sockets = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self.expire)
        self._timer.daemon = True

    def remaining(self):
        return max(0.001, self.deadline - time.monotonic())

    def watch(self, sock):
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shutdown(sock)

    def expire(self):
        with self._lock:
            if self._done:
                return  # finished meanwhile: its sockets are back in use
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shutdown(sock)

    def __enter__(self):
        self._timer.start()
        _local.call = self
        return self

    def __exit__(self, *exc):
        _local.call = None
        self._timer.cancel()
        with self._lock:
            self._done = True
            self._sockets = []


def _shutdown(sock):
    """End every read and write on ``sock`` now (also TLS sockets: the
    plain socket's shutdown, not the TLS layer's)."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, ValueError, TypeError):
        pass


def _watch(sock):
    call = getattr(_local, 'call', None)
    if call is not None and sock is not None:
        call.watch(sock)


class _WatchedMixin:
    """Registers the connection's socket with the current call."""

    def _new_conn(self):
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def request(self, *args, **kwargs):
        _watch(self.sock)  # a kept-alive connection: already connected
        return super().request(*args, **kwargs)


class _HTTPConnection(_WatchedMixin, urllib3_connection.HTTPConnection):
    pass


class _HTTPSConnection(_WatchedMixin, urllib3_connection.HTTPSConnection):
    pass


class _HTTPPool(connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {'http': _HTTPPool, 'https': _HTTPSPool}


class _Adapter(requests.adapters.HTTPAdapter):
    """A ``requests`` adapter whose connections the watchdog can end."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy, **kwargs):
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith('socks'):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


@dataclasses.dataclass(frozen=True)
class Answer:
    """A provider's HTTP answer, read completely."""

    status: int
    body: bytes


class Http:
    """Calls to one provider: one ``requests`` session per thread, each
    call bounded by ``timeout`` seconds in all."""

    def __init__(self, timeout, verify):
        self.timeout = timeout
        self._verify = verify
        self._local = threading.local()

    def _session(self):
        session = getattr(self._local, 'session', None)
        if session is None:
            session = self._local.session = requests.Session()
            adapter = _Adapter()
            session.mount('http://', adapter)
            session.mount('https://', adapter)
        return session

    def request(self, method, url, what, **kwargs):
        """The :class:`Answer`, or :class:`ProviderUnavailable` when none
        came within the deadline."""
        with _Call(self.timeout) as call:
            try:
                return self._request(call, method, url, what, **kwargs)
            except errors.ProviderUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: no answer
                # requests' own read timeout is the remaining time, so it
                # may fire a hair before the deadline's clock says so
                if call.expired or isinstance(
                        exc, requests.exceptions.Timeout):
                    raise errors.ProviderUnavailable(
                        '%s at %s took longer than %g seconds'
                        % (what, url, call.seconds)) from None
                raise errors.ProviderUnavailable(
                    '%s at %s failed: %s' % (what, url, type(exc).__name__)
                ) from None

    def _request(self, call, method, url, what, **kwargs):
        remaining = call.remaining()
        resp = self._session().request(
            method, url, timeout=(remaining, remaining), verify=self._verify,
            allow_redirects=False, stream=True, **kwargs)
        try:
            body = bytearray()
            for chunk in resp.iter_content(_CHUNK):
                body += chunk
                if len(body) > MAX_BODY:
                    raise errors.ProviderUnavailable(
                        '%s at %s answered more than %d bytes'
                        % (what, url, MAX_BODY))
                if call.expired:
                    raise TimeoutError
        finally:
            resp.close()
        if call.expired:
            raise TimeoutError
        return Answer(resp.status_code, bytes(body))
