"""Talking to one identity provider: discovery, JWKS, introspection, userinfo.

:class:`ProviderClient` keeps the discovery document and the signing keys
of one issuer. Keys are fetched lazily, refreshed when older than
``jwks_max_age`` (the old keys stay in use if the refresh fails) and fetched
again when a token names an unknown ``kid`` - at most once per
``refetch_interval`` seconds, so a flood of tokens with bogus kids cannot
hammer the provider. All HTTP goes through ``requests`` with a timeout.
"""

import logging
import threading
import time

import jwt
import requests

from voms_auth.oidc import errors
from voms_auth.oidc.issuer import check_endpoint_url

LOG = logging.getLogger(__name__)

#: JWK key types and curves each allowed algorithm may be used with.
_KEY_TYPES = {
    'RS': ('RSA', None), 'PS': ('RSA', None),
    'ES256': ('EC', 'P-256'), 'ES384': ('EC', 'P-384'),
    'EdDSA': ('OKP', ('Ed25519', 'Ed448')),
}


def _key_type_for(alg):
    return _KEY_TYPES.get(alg) or _KEY_TYPES[alg[:2]]


class _Http:
    """``requests`` sessions, one per thread (sessions are not shared
    between threads)."""

    def __init__(self, timeout, verify):
        self._timeout = timeout
        self._verify = verify
        self._local = threading.local()

    def _session(self):
        session = getattr(self._local, 'session', None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def request(self, method, url, what, **kwargs):
        """The response, or :class:`ProviderUnavailable` when none came."""
        try:
            return self._session().request(
                method, url, timeout=self._timeout, verify=self._verify,
                allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            raise errors.ProviderUnavailable(
                '%s at %s failed: %s' % (what, url, type(exc).__name__)
            ) from None

    def json(self, method, url, what, **kwargs):
        resp = self.request(method, url, what, **kwargs)
        if resp.status_code != 200:
            raise errors.ProviderUnavailable(
                '%s at %s answered HTTP %d' % (what, url, resp.status_code))
        return _json_object(resp, what, url)


def _json_object(resp, what, url):
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise errors.ProviderUnavailable(
            '%s at %s did not answer a JSON object' % (what, url))
    return body


class ProviderClient:
    """Discovery, keys, introspection and userinfo of one issuer.

    Thread-safe. ``clock`` returns epoch seconds (monotonic enough for
    rate limiting; tests pass a fixed clock for time checks, which does not
    affect the monotonic rate limiter).
    """

    def __init__(self, config, *, http_timeout=5.0, refetch_interval=30.0,
                 jwks_max_age=3600.0):
        self.config = config
        self._http = _Http(http_timeout, config.ca_file or True)
        self._refetch_interval = refetch_interval
        self._jwks_max_age = jwks_max_age
        self._lock = threading.Lock()
        self._metadata = None
        self._keys = {}          # kid -> JWK dict (signing keys only)
        self._pyjwks = {}        # (kid, alg) -> jwt.PyJWK
        self._fetched_at = None  # monotonic time of the last good fetch
        self._attempted_at = None  # monotonic time of the last attempt

    # -- discovery --------------------------------------------------------

    def metadata(self):
        """The discovery document (fetched once, then kept).

        :raises ProviderUnavailable: the provider cannot be reached.
        :raises DiscoveryMismatch: it names another issuer or non-https
            endpoints.
        """
        if self._metadata is None:
            url = (self.config.issuer.rstrip('/')
                   + '/.well-known/openid-configuration')
            doc = self._http.json('GET', url, 'discovery')
            if doc.get('issuer') != self.config.issuer:
                raise errors.DiscoveryMismatch(
                    'discovery at %s names issuer %r, not the configured %r'
                    % (url, doc.get('issuer'), self.config.issuer))
            for name in ('jwks_uri', 'introspection_endpoint',
                         'userinfo_endpoint'):
                if doc.get(name) is not None:
                    try:
                        check_endpoint_url(doc[name], name)
                    except errors.OIDCConfigurationError as exc:
                        raise errors.DiscoveryMismatch(
                            'discovery at %s: %s' % (url, exc)) from None
            self._metadata = doc
        return self._metadata

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

    def _fetch_keys(self):
        """Fetch the JWKS; keep only usable signing keys."""
        url = self._endpoint('jwks_uri')
        doc = self._http.json('GET', url, 'JWKS')
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

        :raises ProviderUnavailable: a needed fetch failed and no keys are
            cached (or ``strict``: a needed fetch failed).
        """
        with self._lock:
            now = time.monotonic()
            stale = (self._fetched_at is None
                     or now - self._fetched_at > self._jwks_max_age)
            if not stale and not unknown_kid:
                return False
            if (self._attempted_at is not None
                    and now - self._attempted_at < self._refetch_interval
                    and self._fetched_at is not None):
                return False  # rate limit: we asked very recently
            self._attempted_at = now
            try:
                keys = self._fetch_keys()
            except errors.ProviderUnavailable:
                if self._fetched_at is None or unknown_kid or strict:
                    raise
                LOG.warning('issuer %s: key refresh failed, keeping the '
                            'cached keys', self.config.issuer)
                return False
            self._keys = keys
            self._pyjwks = {}
            self._fetched_at = now
            LOG.info('issuer %s: fetched %d signing keys',
                     self.config.issuer, len(keys))
            return True

    def signing_key(self, kid, alg):
        """The :class:`jwt.PyJWK` for ``kid`` bound to ``alg``, or ``None``
        when the issuer does not publish ``kid``.

        :raises DisallowedAlgorithm: the key is not for ``alg``.
        """
        cached = self._pyjwks.get((kid, alg))
        if cached is not None:
            return cached
        if kid is None:
            if len(self._keys) != 1:
                return None
            kid = next(iter(self._keys))
        jwk = self._keys.get(kid)
        if jwk is None:
            return None
        kty, curves = _key_type_for(alg)
        crv = jwk.get('crv')
        if (jwk.get('kty') != kty
                or (jwk.get('alg') not in (None, alg))
                or (isinstance(curves, str) and crv != curves)
                or (isinstance(curves, tuple) and crv not in curves)):
            raise errors.DisallowedAlgorithm(
                'token algorithm %s does not match the issuer\'s key %s'
                % (alg, errors.shown(kid)))
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
        except jwt.exceptions.PyJWTError as exc:
            raise errors.DisallowedAlgorithm(
                'issuer key %s is unusable for %s: %s'
                % (errors.shown(kid), alg, exc)
            ) from None
        self._pyjwks[(kid, alg)] = key
        return key

    # -- introspection and userinfo ---------------------------------------

    def introspect(self, token):
        """RFC 7662 answer for ``token`` (a dict with ``active``).

        :raises ProviderUnavailable: no usable answer.
        """
        url = self._endpoint('introspection_endpoint')
        resp = self._http.request(
            'POST', url, 'introspection',
            data={'token': token, 'token_type_hint': 'access_token'},
            auth=(self.config.client_id, self.config.client_secret),
            headers={'Accept': 'application/json'})
        if resp.status_code in (401, 403):
            raise errors.OIDCConfigurationError(
                'introspection at %s refused client %r (HTTP %d): check '
                'client_id and client_secret'
                % (url, self.config.client_id, resp.status_code))
        if resp.status_code != 200:
            raise errors.ProviderUnavailable(
                'introspection at %s answered HTTP %d'
                % (url, resp.status_code))
        return _json_object(resp, 'introspection', url)

    def userinfo(self, token):
        """The userinfo claims for ``token``.

        :raises TokenInactive: the provider refuses the token (HTTP 401).
        :raises ProviderUnavailable: no usable answer.
        """
        url = self._endpoint('userinfo_endpoint')
        resp = self._http.request(
            'GET', url, 'userinfo',
            headers={'Authorization': 'Bearer ' + token,
                     'Accept': 'application/json'})
        if resp.status_code in (401, 403):
            raise errors.TokenInactive(
                'the userinfo endpoint refuses the token (HTTP %d)'
                % resp.status_code)
        if resp.status_code != 200:
            raise errors.ProviderUnavailable(
                'userinfo at %s answered HTTP %d' % (url, resp.status_code))
        return _json_object(resp, 'userinfo', url)
