"""Verification service shared by the middleware and the auth handlers.

One :class:`Authenticator` per process, built from the ``[voms_auth]``
options: it owns the VOMS trust store, the OIDC token validator and the
mapping file, and remembers verified credentials by fingerprint until they
expire (or ``verification_cache_ttl`` passes). No Keystone import.
"""

import datetime
import hashlib
import logging
import socket
import threading

from voms_auth import conf as voms_conf
from voms_auth.oidc import cache as cache_mod

LOG = logging.getLogger(__name__)


class VerificationCache:
    """Bounded LRU of verified identities, keyed by credential fingerprint.

    An entry is served until the earlier of the identity's expiry and
    ``ttl`` seconds after it was stored; ``size`` 0 disables the cache.
    Thread-safe. Entries live in the same bounded, expiring LRU the OIDC
    validator keeps its provider answers in.
    """

    def __init__(self, size, ttl, clock=None):
        self._ttl = datetime.timedelta(seconds=ttl)
        self._clock = clock or (
            lambda: datetime.datetime.now(datetime.timezone.utc))
        self._store = cache_mod.MemoryCache(
            size, clock=lambda: self._clock().timestamp()) if size else None

    @staticmethod
    def fingerprint(kind, parts):
        digest = hashlib.sha256(kind.encode())
        for part in parts:
            digest.update(b'\0')
            digest.update(part.encode() if isinstance(part, str) else part)
        return digest.hexdigest()

    def get(self, key):
        return self._store.get(key) if self._store is not None else None

    def put(self, key, identity):
        if self._store is not None:
            until = min(identity.expires_at, self._clock() + self._ttl)
            self._store.set(key, identity, until.timestamp())


class Authenticator:
    """Verifies credentials and hands out the current mapping.

    :param conf: a ``ConfigOpts`` on which :func:`voms_auth.conf.register_opts`
        has been called (Keystone's ``CONF`` inside Keystone).
    """

    def __init__(self, conf):
        self._conf = conf
        opts = conf.voms_auth
        self.cache = VerificationCache(opts.verification_cache_size,
                                       opts.verification_cache_ttl)
        self._lock = threading.Lock()
        self._verifier = None
        self._validator = None
        self._mapping_file = None

    @property
    def options(self):
        """The ``[voms_auth]`` option group."""
        return self._conf.voms_auth

    # -- lazily built cores -------------------------------------------------
    def _voms_verifier(self):
        if self._verifier is None:
            from voms_auth import voms

            opts = self._conf.voms_auth
            with self._lock:
                if self._verifier is None:
                    store = voms.TrustStore(
                        opts.ca_path, opts.vomsdir,
                        allow_expired_crl=opts.allow_expired_crl,
                        clock_skew=datetime.timedelta(
                            seconds=opts.clock_skew),
                        refresh_interval=opts.trust_reload_interval)
                    self._verifier = voms.Verifier(
                        store,
                        service_host=opts.service_host or socket.getfqdn())
        return self._verifier

    def _token_validator(self):
        if self._validator is None:
            from voms_auth.oidc import config as oidc_config

            with self._lock:
                if self._validator is None:
                    self._validator = oidc_config.validator_from_conf(
                        self._conf, cache=self._shared_cache_region())
        return self._validator

    def _shared_cache_region(self):
        if not self._conf.voms_auth.shared_cache:
            return None
        from oslo_cache import core as cache_core

        region = cache_core.create_region()
        cache_core.configure_cache_region(self._conf, region)
        return region

    def mapping_file(self):
        if self._mapping_file is None:
            from voms_auth import mapping

            opts = self._conf.voms_auth
            with self._lock:
                if self._mapping_file is None:
                    self._mapping_file = mapping.MappingFile(
                        opts.mapping_file,
                        default_domain=opts.default_domain,
                        legacy_role=opts.legacy_mapping_role,
                        check_interval=opts.mapping_reload_interval)
        return self._mapping_file

    # -- verification -------------------------------------------------------
    def verify_proxy_chain(self, pems):
        """Identity proved by a proxy chain (proxy first); cached.

        :raises voms_auth.errors.CredentialError: the proxy is refused.
        """
        key = self.cache.fingerprint('voms', pems)
        identity = self.cache.get(key)
        if identity is None:
            credential = self._voms_verifier().verify_chain(pems)
            identity = credential.identity()
            self.cache.put(key, identity)
            LOG.info('verified VOMS proxy of %s (CA %s), VO %s',
                     identity.subject, identity.issuer,
                     identity.attributes.get('vo'))
        return identity

    def verify_token(self, token):
        """Identity proved by an OIDC access token; cached.

        :raises voms_auth.errors.CredentialError: the token is refused.
        """
        key = self.cache.fingerprint('oidc', [token])
        identity = self.cache.get(key)
        if identity is None:
            identity = self._token_validator().validate(token)
            self.cache.put(key, identity)
            LOG.info('validated access token of %s from %s',
                     identity.subject, identity.issuer)
        return identity


_INSTANCES = {}
_INSTANCES_LOCK = threading.Lock()


def get_authenticator(conf):
    """The process-wide :class:`Authenticator` for ``conf``."""
    key = id(conf)
    authenticator = _INSTANCES.get(key)
    if authenticator is None:
        with _INSTANCES_LOCK:
            authenticator = _INSTANCES.get(key)
            if authenticator is None:
                voms_conf.register_opts(conf)  # idempotent
                authenticator = _INSTANCES[key] = Authenticator(conf)
    return authenticator


def reset():
    """Forget every process-wide authenticator (tests, config reload)."""
    with _INSTANCES_LOCK:
        _INSTANCES.clear()
