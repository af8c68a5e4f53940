"""Talking to one identity provider: discovery, JWKS, introspection, userinfo.

:class:`ProviderClient` keeps the discovery document and the signing keys
of one issuer. Keys are fetched lazily, refreshed when older than
``jwks_max_age`` (the old keys stay in use if the refresh fails) and fetched
again when a token names an unknown ``kid`` - at most once per
``refetch_interval`` seconds, so a flood of tokens with bogus kids cannot
hammer the provider.

The cost of a provider that fails or hangs is bounded: every call has one
total deadline (:mod:`voms_auth.oidc.http`); at most ``max_calls`` requests
wait on or talk to one provider at a time (others are refused at once with
:class:`~voms_auth.oidc.errors.ProviderBusy`); a failed discovery or key
fetch is not tried again for ``backoff`` seconds, doubling with each
further failure up to ``backoff_max`` (tokens needing it meanwhile are
refused at once); introspection is limited to ``introspection_rate`` calls
a second (bursts of ``introspection_burst``).
"""

import contextlib
import logging
import threading
import time

import jwt

from voms_auth.oidc import errors, safejson
from voms_auth.oidc.http import Http

LOG = logging.getLogger(__name__)

#: JWK key types and curves each allowed algorithm may be used with.
_KEY_TYPES = {
    'RS': ('RSA', None), 'PS': ('RSA', None),
    'ES256': ('EC', 'P-256'), 'ES384': ('EC', 'P-384'),
    'EdDSA': ('OKP', ('Ed25519', 'Ed448')),
}

#: Most keys a token without ``kid`` is tried against.
MAX_KIDLESS_CANDIDATES = 4


def _key_type_for(alg):
    return _KEY_TYPES.get(alg) or _KEY_TYPES[alg[:2]]


def _json_object(answer, what, url):
    if answer.status != 200:
        raise errors.ProviderUnavailable(
            '%s at %s answered HTTP %d' % (what, url, answer.status))
    try:
        body = safejson.loads(answer.body)
    except ValueError as exc:
        raise errors.ProviderUnavailable(
            '%s at %s did not answer JSON: %s' % (what, url, exc)) from None
    if not isinstance(body, dict):
        raise errors.ProviderUnavailable(
            '%s at %s did not answer a JSON object' % (what, url))
    return body


class _Bucket:
    """A token bucket: ``rate`` calls a second, bursts of ``burst``."""

    def __init__(self, rate, burst):
        self._rate = rate
        self._burst = max(1.0, float(burst))
        self._tokens = self._burst
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self):
        if not self._rate:
            return True
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst,
                               self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class ProviderClient:
    """Discovery, keys, introspection and userinfo of one issuer.

    Thread-safe. Rate limits, back-off and key ages use the monotonic
    clock (a test's fixed validator clock does not affect them).
    """

    def __init__(self, config, *, http_timeout=5.0, refetch_interval=30.0,
                 jwks_max_age=3600.0, max_calls=4, backoff=5.0,
                 backoff_max=300.0, introspection_rate=10.0,
                 introspection_burst=20):
        self.config = config
        self._http = Http(http_timeout, config.ca_file or True)
        self._refetch_interval = refetch_interval
        self._jwks_max_age = jwks_max_age
        self._slots = threading.BoundedSemaphore(max(1, int(max_calls)))
        self._max_calls = max(1, int(max_calls))
        self._backoff = backoff
        self._backoff_max = max(backoff, backoff_max)
        self._failures = 0
        self._retry_at = None    # monotonic time before which we refuse
        self._introspections = _Bucket(introspection_rate,
                                       introspection_burst)
        self._lock = threading.Lock()
        self._metadata_lock = threading.Lock()
        self._metadata = None
        self._keys = {}          # kid -> JWK dict (signing keys only)
        self._pyjwks = {}        # (kid, alg) -> jwt.PyJWK
        self._fetched_at = None  # monotonic time of the last good fetch
        self._attempted_at = None  # monotonic time of the last attempt

    # -- bounds -----------------------------------------------------------

    @contextlib.contextmanager
    def _slot(self):
        """One of the ``max_calls`` places for requests needing the
        provider; refused at once when all are taken."""
        if not self._slots.acquire(blocking=False):
            raise errors.ProviderBusy(
                'issuer %s: %d requests to it are already in progress'
                % (self.config.issuer, self._max_calls))
        try:
            yield
        finally:
            self._slots.release()

    def _check_backoff(self):
        retry_at = self._retry_at
        if retry_at is not None:
            wait = retry_at - time.monotonic()
            if wait > 0:
                raise errors.ProviderUnavailable(
                    'issuer %s failed recently; not asked again for %.0f s'
                    % (self.config.issuer, wait))

    def _failed(self):
        self._failures += 1
        delay = min(self._backoff_max,
                    self._backoff * 2 ** min(self._failures - 1, 30))
        self._retry_at = time.monotonic() + delay

    def _succeeded(self):
        self._failures = 0
        self._retry_at = None

    # -- discovery --------------------------------------------------------

    def metadata(self):
        """The discovery document (fetched once, then kept).

        :raises ProviderUnavailable: the provider cannot be reached (or
            failed recently: see ``backoff``).
        :raises DiscoveryMismatch: it names another issuer or endpoints the
            configuration does not allow.
        """
        if self._metadata is None:
            with self._metadata_lock:
                if self._metadata is None:
                    self._check_backoff()
                    try:
                        self._metadata = self._fetch_metadata()
                    except (errors.ProviderUnavailable,
                            errors.DiscoveryMismatch):
                        self._failed()
                        raise
        return self._metadata

    def _fetch_metadata(self):
        url = (self.config.issuer.rstrip('/')
               + '/.well-known/openid-configuration')
        doc = self._get_json(url, 'discovery')
        if doc.get('issuer') != self.config.issuer:
            raise errors.DiscoveryMismatch(
                'discovery at %s names issuer %s, not the configured %r'
                % (url, errors.shown(doc.get('issuer')),
                   self.config.issuer))
        for name in ('jwks_uri', 'introspection_endpoint',
                     'userinfo_endpoint'):
            if doc.get(name) is not None:
                try:
                    self.config.check_endpoint(doc[name], name)
                except errors.OIDCConfigurationError as exc:
                    raise errors.DiscoveryMismatch(
                        'discovery at %s: %s' % (url, exc)) from None
        return doc

    def _get_json(self, url, what):
        return _json_object(self._http.request('GET', url, what), what, url)

    def _endpoint(self, name):
        url = self.metadata().get(name)
        if not url:
            raise errors.DiscoveryMismatch(
                'issuer %s publishes no %s' % (self.config.issuer, name))
        return url

    # -- keys -------------------------------------------------------------

    @property
    def kids(self):
        return tuple(self._keys)

    def knows_kid(self, kid):
        """True when ``kid`` (``None``: any key) is among the cached keys."""
        keys = self._keys
        return bool(keys) if kid is None else kid in keys

    def keys_are_fresh(self):
        fetched = self._fetched_at
        return (fetched is not None
                and time.monotonic() - fetched <= self._jwks_max_age)

    def _fetch_keys(self, url):
        """Fetch the JWKS; keep only usable signing keys."""
        doc = self._get_json(url, 'JWKS')
        keys = doc.get('keys')
        if not isinstance(keys, list):
            raise errors.ProviderUnavailable('JWKS at %s has no keys' % url)
        found = {}
        for jwk in keys:
            if not isinstance(jwk, dict) or jwk.get('use', 'sig') != 'sig':
                continue
            if jwk.get('kty') not in ('RSA', 'EC', 'OKP'):
                continue  # never symmetric ("oct") keys
            kid = jwk.get('kid')
            if kid is None and 'd' not in jwk:
                kid = ''
            if isinstance(kid, str) and 'd' not in jwk:
                found.setdefault(kid, jwk)
        return found

    def refresh_keys(self, *, unknown_kid=False, strict=False):
        """Fetch the keys if never fetched, stale, or (rate-limited) when a
        token names an unknown kid. Returns True when keys were fetched.

        :raises ProviderUnavailable: a needed fetch failed (or failed
            recently) and no keys are cached (or ``strict``, or
            ``unknown_kid``).
        :raises ProviderBusy: too many requests wait on this provider.
        """
        with self._slot(), self._lock:
            now = time.monotonic()
            stale = (self._fetched_at is None
                     or now - self._fetched_at > self._jwks_max_age)
            if not stale and not unknown_kid:
                return False  # another request fetched them meanwhile
            if (self._attempted_at is not None
                    and now - self._attempted_at < self._refetch_interval
                    and self._fetched_at is not None):
                return False  # rate limit: we asked very recently
            try:
                self._check_backoff()
                self._attempted_at = now
                url = self._endpoint('jwks_uri')  # records its failures
                try:
                    keys = self._fetch_keys(url)
                except errors.ProviderUnavailable:
                    self._failed()
                    raise
            except errors.ProviderUnavailable:
                if self._fetched_at is None or unknown_kid or strict:
                    raise
                LOG.warning('issuer %s: key refresh failed, keeping the '
                            'cached keys', self.config.issuer)
                return False
            self._succeeded()
            self._keys = keys
            self._pyjwks = {}
            self._fetched_at = now
            LOG.info('issuer %s: fetched %d signing keys',
                     self.config.issuer, len(keys))
            return True

    def signing_keys(self, kid, alg):
        """The :class:`jwt.PyJWK` objects a token signed with ``alg`` may be
        checked with: the key ``kid``, or for a token without ``kid`` this
        issuer's keys usable with ``alg`` (a few at most). Empty when the
        issuer publishes no such key.

        :raises DisallowedAlgorithm: the key ``kid`` is not for ``alg``.
        """
        cached = self._pyjwks.get((kid, alg))
        if cached is not None:
            return cached
        if kid is None:
            found = []
            for jwk in self._keys.values():
                if self._fits(jwk, alg):
                    found.append(self._pyjwk(jwk, alg, None))
                    if len(found) == MAX_KIDLESS_CANDIDATES:
                        break
            keys = tuple(found)
        else:
            jwk = self._keys.get(kid)
            if jwk is None:
                return ()
            if not self._fits(jwk, alg):
                raise errors.DisallowedAlgorithm(
                    'token algorithm %s does not match the issuer\'s key %s'
                    % (alg, errors.shown(kid)))
            keys = (self._pyjwk(jwk, alg, kid),)
        self._pyjwks[(kid, alg)] = keys
        return keys

    @staticmethod
    def _fits(jwk, alg):
        kty, curves = _key_type_for(alg)
        crv = jwk.get('crv')
        return (jwk.get('kty') == kty
                and jwk.get('alg') in (None, alg)
                and not (isinstance(curves, str) and crv != curves)
                and not (isinstance(curves, tuple) and crv not in curves))

    @staticmethod
    def _pyjwk(jwk, alg, kid):
        try:
            return jwt.PyJWK(jwk, algorithm=alg)
        except Exception as exc:  # noqa: BLE001 - the provider's bad key
            raise errors.DisallowedAlgorithm(
                'issuer key %s is unusable for %s: %s'
                % (errors.shown(kid), alg, type(exc).__name__)) from None

    # -- introspection and userinfo ---------------------------------------

    def introspect(self, token):
        """RFC 7662 answer for ``token`` (a dict with ``active``).

        :raises ProviderUnavailable: no usable answer.
        :raises ProviderBusy: too many introspections (rate limit), or too
            many requests in progress.
        """
        if not self._introspections.take():
            raise errors.ProviderBusy(
                'issuer %s: introspection rate limit reached'
                % self.config.issuer)
        with self._slot():
            url = self._endpoint('introspection_endpoint')
            answer = self._http.request(
                'POST', url, 'introspection',
                data={'token': token, 'token_type_hint': 'access_token'},
                auth=(self.config.client_id, self.config.client_secret),
                headers={'Accept': 'application/json'})
        if answer.status in (401, 403):
            raise errors.OIDCConfigurationError(
                'introspection at %s refused client %r (HTTP %d): check '
                'client_id and client_secret'
                % (url, self.config.client_id, answer.status))
        return _json_object(answer, 'introspection', url)

    def userinfo(self, token):
        """The userinfo claims for ``token``.

        :raises TokenInactive: the provider refuses the token (HTTP 401).
        :raises ProviderUnavailable: no usable answer.
        :raises ProviderBusy: too many requests in progress.
        """
        with self._slot():
            url = self._endpoint('userinfo_endpoint')
            answer = self._http.request(
                'GET', url, 'userinfo',
                headers={'Authorization': 'Bearer ' + token,
                         'Accept': 'application/json'})
        if answer.status in (401, 403):
            raise errors.TokenInactive(
                'the userinfo endpoint refuses the token (HTTP %d)'
                % answer.status)
        return _json_object(answer, 'userinfo', url)
