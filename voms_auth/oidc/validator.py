"""Access token -> :class:`~voms_auth.identity.Identity`.

A JWT is verified locally with the issuer's published keys (PyJWT does the
JWS work); anything else, or any token of an issuer configured
``token_type = opaque``, is sent to RFC 7662 introspection. Userinfo fills
in claims the token lacks when the issuer asks for it. An opaque token
names no issuer, so it is offered to each issuer that introspects, in
configuration order, until one says it is active.

Caching: the :class:`~voms_auth.identity.Identity` of every accepted token,
JWT or opaque, is kept in ONE bounded in-process cache keyed by a SHA-256
fingerprint of the token (``cache_size`` entries; each until the token's
``exp`` or ``cache_ttl`` seconds, whichever comes first). Given a shared
store (an oslo.cache region), introspection and userinfo answers are also
shared between Keystone nodes, each for ``answer_ttl`` seconds at most.
"""

import base64
import binascii
import logging
import re
import time

import jwt

from voms_auth.cache import MemoryCache
from voms_auth.oidc import errors, safejson
from voms_auth.oidc.cache import as_cache, token_key
from voms_auth.oidc.claims import (
    check_access_token,
    check_audience,
    check_times,
    claims_from_introspection,
    identity_from_claims,
)
from voms_auth.oidc.issuer import JWT, OPAQUE, IssuerConfig
from voms_auth.oidc.provider import ProviderClient

LOG = logging.getLogger(__name__)

#: Longest token accepted (real ones are a few kB).
MAX_TOKEN_SIZE = 16384

#: RFC 6750 ``b64token``: the characters a bearer token may have.
_B64TOKEN = re.compile(r'[A-Za-z0-9\-._~+/]+=*')

# PyJWS checks the signature (and the header); the claims are checked here
# (with the injectable clock) from the payload parsed by safejson.
_JWS = jwt.PyJWS(options={'verify_signature': True,
                          'enforce_minimum_key_length': True})


def _b64json(segment, what):
    try:
        raw = base64.urlsafe_b64decode(segment + '=' * (-len(segment) % 4))
        value = safejson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise errors.MalformedToken('token %s is not base64url JSON (%s)'
                                    % (what, exc)) from None
    if not isinstance(value, dict):
        raise errors.MalformedToken('token %s is not a JSON object' % what)
    return value


class TokenValidator:
    """Validates access tokens from a fixed set of trusted issuers.

    :param issuers: :class:`~voms_auth.oidc.IssuerConfig` objects (issuer
        URLs must be distinct).
    :param cache: store of provider answers (introspection, userinfo)
        shared between Keystone nodes: an oslo.cache / dogpile region, or an
        object with ``get(key)`` and ``set(key, value, expires)``; ``None``
        (the default): answers are not kept beyond the result cache.
    :param http_timeout: seconds for each request to a provider.
    :param leeway: seconds of clock skew tolerated for ``exp``/``nbf``/
        ``iat``.
    :param clock: returns the current time as epoch seconds (tests).
    :param jwks_refetch_interval: at most one key fetch per issuer per this
        many seconds when tokens name unknown kids.
    :param jwks_max_age: cached keys older than this are refreshed (and kept
        if the refresh fails).
    :param answer_ttl: upper bound, in seconds, of how long a shared
        provider answer is reused, and how long an introspection answer
        without ``exp`` is trusted.
    :param cache_size: identities of validated tokens kept in process
        (0: no result cache).
    :param cache_ttl: upper bound, in seconds, of how long a validated
        token's identity is reused (never past the token's ``exp``).
    :param max_calls: requests that may wait on or talk to one provider at
        a time; more are refused at once (a hung provider holds at most
        this many workers).
    :param backoff: seconds during which a provider whose discovery or
        key fetch failed is not asked again (tokens needing it are refused
        at once); doubled for each further failure up to ``backoff_max``.
    :param negative_ttl: seconds an opaque token that introspection called
        inactive is refused without asking again (0: not remembered).
    :param introspection_rate: introspections of unknown tokens per second
        and issuer (0: unlimited), in bursts of ``introspection_burst``.

    Thread-safe; meant to live as long as the process.
    """

    def __init__(self, issuers, *, cache=None, http_timeout=5.0, leeway=30,
                 clock=None, jwks_refetch_interval=30.0,
                 jwks_max_age=3600.0, answer_ttl=300.0, cache_size=4096,
                 cache_ttl=300.0, max_calls=4, backoff=5.0,
                 backoff_max=300.0, negative_ttl=60.0,
                 introspection_rate=10.0, introspection_burst=20):
        issuers = tuple(issuers)
        if not issuers:
            raise errors.OIDCConfigurationError('no trusted issuers')
        self._clock = clock or time.time
        self._leeway = leeway
        self._answer_ttl = answer_ttl
        self._answers = (None if cache is None
                         else as_cache(cache, clock=self._clock))
        self._cache_ttl = cache_ttl
        self._results = (MemoryCache(cache_size, clock=self._clock)
                         if cache_size else None)
        self._negative_ttl = negative_ttl
        self._refused = (MemoryCache(max(cache_size, 1024),
                                     clock=time.monotonic)
                         if negative_ttl else None)
        self._providers = {}
        for config in issuers:
            if not isinstance(config, IssuerConfig):
                raise errors.OIDCConfigurationError(
                    'issuers must be IssuerConfig objects')
            if config.issuer in self._providers:
                raise errors.OIDCConfigurationError(
                    'issuer %s is configured twice' % config.issuer)
            if config.audience is None:
                LOG.warning('issuer %s: accept_any_audience is set: tokens '
                            'the provider issued to any of its clients are '
                            'accepted', config.name or config.issuer)
            self._providers[config.issuer] = ProviderClient(
                config, http_timeout=http_timeout,
                refetch_interval=jwks_refetch_interval,
                jwks_max_age=jwks_max_age, max_calls=max_calls,
                backoff=backoff, backoff_max=backoff_max,
                introspection_rate=introspection_rate,
                introspection_burst=introspection_burst)

    @property
    def issuers(self):
        return tuple(p.config for p in self._providers.values())

    def prefetch(self):
        """Fetch discovery and keys of every JWT issuer whose keys are
        missing or stale (optional: otherwise the first token does it).
        Returns the issuers that could not be reached; their cached keys,
        if any, stay in use."""
        failed = []
        for provider in self._providers.values():
            if provider.config.token_type == OPAQUE:
                continue
            try:
                provider.refresh_keys(strict=True)
            except errors.TokenError as exc:
                LOG.warning('issuer %s: %s', provider.config.issuer, exc)
                failed.append(provider.config.issuer)
        return tuple(failed)

    # -- entry point ------------------------------------------------------

    def validate(self, token):
        """The :class:`~voms_auth.identity.Identity` ``token`` proves.

        :raises TokenError: (a subclass naming the reason) when refused.
        :raises OIDCConfigurationError: when an issuer's set-up is unusable
            (discovery names another issuer, introspection refuses our
            client credentials).
        """
        if not isinstance(token, str):
            raise errors.MalformedToken('token is not text')
        if len(token) > MAX_TOKEN_SIZE + 64:  # before any work on it
            raise errors.MalformedToken('token is longer than %d characters'
                                        % MAX_TOKEN_SIZE)
        token = token.strip()
        if not token:
            raise errors.MalformedToken('token is empty')
        if len(token) > MAX_TOKEN_SIZE:
            raise errors.MalformedToken('token is longer than %d characters'
                                        % MAX_TOKEN_SIZE)
        if _B64TOKEN.fullmatch(token) is None:
            raise errors.MalformedToken('token contains characters no '
                                        'access token has')
        key = token_key(token)
        identity = self._results.get(key) if self._results else None
        if identity is None:
            identity = self._validate_uncached(token)
            self._remember(key, identity)
        return identity

    def _validate_uncached(self, token):
        """:meth:`validate` without the result cache."""
        segments = token.split('.')
        if len(segments) == 3:
            return self._validate_jwt(token, segments)
        if len(segments) == 5:
            raise errors.MalformedToken('encrypted (JWE) tokens are not '
                                        'supported')
        return self._validate_opaque(token)

    def _remember(self, key, identity):
        """Keep ``identity`` until the token expires, ``cache_ttl`` at
        most."""
        if self._results is None:
            return
        now = self._clock()
        expires = min(identity.expires_at.timestamp(), now + self._cache_ttl)
        if expires > now:
            self._results.set(key, identity, expires)

    # -- JWT --------------------------------------------------------------

    def _validate_jwt(self, token, segments):
        header = _b64json(segments[0], 'header')
        alg = header.get('alg')
        if not isinstance(alg, str):
            raise errors.MalformedToken('token header has no algorithm')
        kid = header.get('kid')
        if kid is not None and not isinstance(kid, str):
            raise errors.MalformedToken('token key id (kid) is not a string')
        # The issuer named in the token chooses the keys, never the cache:
        # the payload is parsed (safely) before its signature is checked,
        # and only this issuer's keys can make it valid.
        claims = _b64json(segments[1], 'payload')
        iss = claims.get('iss')
        provider = self._providers.get(iss) if isinstance(iss, str) else None
        if provider is None:
            raise errors.UntrustedIssuer(
                'token issuer %s is not trusted' % errors.shown(iss))
        config = provider.config
        if config.token_type == OPAQUE:
            return self._validate_opaque(token, (provider,))
        if alg not in config.algorithms:
            raise errors.DisallowedAlgorithm(
                'token algorithm %s is not allowed (allowed: %s)'
                % (errors.shown(alg), ', '.join(config.algorithms)))

        if not provider.keys_are_fresh():
            provider.refresh_keys()
        keys = provider.signing_keys(kid, alg)
        if not keys:
            provider.refresh_keys(unknown_kid=True)
            keys = provider.signing_keys(kid, alg)
        if not keys:
            raise errors.UnknownSigningKey(
                'issuer %s does not publish the signing key %s'
                % (config.issuer, errors.shown(kid)))
        self._check_signature(token, keys, alg, kid)

        check_access_token(claims)
        check_audience(claims, config.audience)
        now = self._clock()
        check_times(claims, now, self._leeway)
        if config.use_userinfo:
            claims = self._with_userinfo(provider, token, claims, now)
        return identity_from_claims(config, claims, 'jwt')

    @staticmethod
    def _check_signature(token, keys, alg, kid):
        """Accept when one of ``keys`` verifies the signature."""
        for key in keys:
            try:
                _JWS.decode_complete(token, key=key, algorithms=[alg])
                return
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidAlgorithmError as exc:
                raise errors.DisallowedAlgorithm(
                    'token algorithm refused: %s' % exc) from None
            except jwt.InvalidKeyError as exc:
                raise errors.DisallowedAlgorithm(
                    'issuer key %s refused: %s' % (errors.shown(kid), exc)
                ) from None
            except jwt.PyJWTError as exc:
                raise errors.MalformedToken('token refused: %s'
                                            % exc) from None
            except Exception as exc:  # noqa: BLE001 - fail closed
                LOG.warning('JWS check failed unexpectedly: %s',
                            type(exc).__name__)
                raise errors.MalformedToken(
                    'token refused: unusable signature (%s)'
                    % type(exc).__name__) from None
        raise errors.InvalidSignature('token signature does not verify')

    # -- opaque tokens ----------------------------------------------------

    def _validate_opaque(self, token, providers=None):
        key = token_key(token)
        cached = self._answers.get(key) if self._answers else None
        if cached is not None:
            provider = self._providers.get(cached.get('issuer'))
            if provider is not None:
                claims = cached['claims']
                check_times(claims, self._clock(), self._leeway)
                check_audience(claims, provider.config.audience)
                return identity_from_claims(
                    provider.config, claims, cached['token_type'])

        if providers is None:
            providers = tuple(p for p in self._providers.values()
                              if p.config.token_type != JWT
                              and p.config.can_introspect)
        if not providers:
            raise errors.MalformedToken(
                'token is not a JWT and no issuer is configured for '
                'introspection')
        if self._refused is not None and self._refused.get(key):
            raise errors.TokenInactive(
                'the identity provider said the token is not active (it '
                'was refused in the last %g seconds)' % self._negative_ttl)
        unavailable = None
        for provider in providers:
            try:
                answer = provider.introspect(token)
            except errors.ProviderUnavailable as exc:
                unavailable = exc
                continue
            if answer.get('active') is True:
                return self._accept_introspected(provider, token, answer,
                                                 key)
        if unavailable is not None:
            raise unavailable
        if self._refused is not None:
            self._refused.set(key, True, time.monotonic() + self._negative_ttl)
        raise errors.TokenInactive('the identity provider says the token '
                                   'is not active')

    def _accept_introspected(self, provider, token, answer, key):
        config = provider.config
        now = self._clock()
        claims = claims_from_introspection(
            config, answer, now, self._leeway, self._answer_ttl)
        if config.use_userinfo:
            claims = self._with_userinfo(provider, token, claims, now,
                                         cache=False)
        self._store(key, config.issuer, claims, 'opaque', now)
        return identity_from_claims(config, claims, 'opaque')

    # -- userinfo ---------------------------------------------------------

    def _with_userinfo(self, provider, token, claims, now, cache=True):
        """``claims`` plus the userinfo claims they lack."""
        key = token_key(token) + '.userinfo'
        info = self._answers.get(key) if cache and self._answers else None
        if info is None:
            info = provider.userinfo(token)
            if cache:
                self._store(key, provider.config.issuer, info, 'userinfo',
                            now, exp=claims['exp'])
        else:
            info = info['claims']
        sub = claims.get('sub')
        if sub is not None and info.get('sub') != sub:
            raise errors.SubjectMismatch(
                'userinfo describes subject %s, the token %s'
                % (errors.shown(info.get('sub')), errors.shown(sub)))
        merged = dict(info)
        merged.update(claims)
        return merged

    def _store(self, key, issuer, claims, token_type, now, exp=None):
        """Share a provider answer until ``exp`` (default: the claims'),
        ``answer_ttl`` at most; nothing without a shared store."""
        if self._answers is None:
            return
        exp = claims['exp'] if exp is None else exp
        expires = min(exp, now + self._answer_ttl)
        if expires > now:
            self._answers.set(key, {'issuer': issuer, 'claims': claims,
                                    'token_type': token_type}, expires)
