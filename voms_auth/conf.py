"""oslo.config options of voms-auth, and the cores built from them.

The one options module: ``[voms_auth]`` and ``[voms_auth_issuer:NAME]``.
``register_opts(conf)`` adds the ``[voms_auth]`` options to a ``ConfigOpts``
(Keystone's global ``CONF`` inside Keystone); ``list_opts()`` feeds
``oslo-config-generator``; :func:`load_issuers` reads the issuer sections.
:func:`build_verifier`, :func:`build_token_validator` and
:func:`build_mapping_file` are the one place the cores are built from a
``ConfigOpts``: the cores themselves never import oslo.config.

::

    [voms_auth]
    oidc_issuers = egi, iam

    [voms_auth_issuer:egi]
    issuer = https://aai.egi.eu/auth/realms/egi
    audience = https://keystone.example.org
    client_id = keystone
    client_secret = ...
    use_userinfo = true

    [voms_auth_issuer:iam]
    issuer = https://wlcg.cloud.cnaf.infn.it/
    audience = https://keystone.example.org
    groups_claims = wlcg.groups
"""

import datetime
import socket

from oslo_config import cfg

from voms_auth import errors
from voms_auth.oidc import errors as oidc_errors
from voms_auth.oidc.issuer import (
    ALLOWED_ALGORITHMS,
    AUTO,
    DEFAULT_GROUPS_CLAIMS,
    DEFAULT_NAME_CLAIMS,
    JWT,
    OPAQUE,
    IssuerConfig,
)

GROUP = 'voms_auth'
#: Prefix of the per-issuer groups: ``[voms_auth_issuer:NAME]``.
ISSUER_GROUP_PREFIX = 'voms_auth_issuer:'

voms_opts = [
    cfg.StrOpt(
        'ca_path', default='/etc/grid-security/certificates',
        help='Directory of trusted CA certificates and CRLs in OpenSSL hashed '
             'layout (<hash>.0 certificates, <hash>.r0 CRLs), as installed '
             'by the IGTF distribution and kept fresh by fetch-crl.'),
    cfg.StrOpt(
        'vomsdir', default='/etc/grid-security/vomsdir',
        help='VOMS trust directory: one sub-directory per accepted VO holding '
             '<host>.lsc files (VOMS server DN, then its CA DNs) or the VOMS '
             'server certificates themselves. A VO without a directory here '
             'is refused.'),
    cfg.BoolOpt(
        'allow_expired_crl', default=False,
        help='Accept certificates from a CA whose CRL has passed its '
             'nextUpdate time. Leave off: an expired CRL usually means '
             'fetch-crl stopped running, and revoked users would get in.'),
    cfg.IntOpt(
        'crl_grace_period', default=0, min=0,
        help='Seconds after its nextUpdate a CA\'s CRL is still used (for '
             'when fetch-crl lags). Every verification that uses a CRL in '
             'its grace period logs a warning "CRL IN GRACE". 0: none.'),
    cfg.DictOpt(
        'crl_grace_overrides', default={},
        help='Per-CA CRL grace periods replacing crl_grace_period, as '
             '<CA subject hash>:<seconds>,... The hash is the <hash> of '
             'the CA\'s <hash>.0 and <hash>.r0 files (openssl x509 -noout '
             '-subject_hash), e.g. 1a2b3c4d:172800 for a CA publishing '
             '48-hour CRLs.'),
    cfg.StrOpt(
        'namespace_checking', default='eugridpma_globus',
        choices=['eugridpma_globus', 'globus_eugridpma', 'eugridpma',
                 'globus', 'eugridpma_and_globus',
                 'eugridpma_globus_require', 'globus_eugridpma_require',
                 'eugridpma_require', 'globus_require',
                 'eugridpma_and_globus_require', 'ignore'],
        help='How the IGTF namespace files in ca_path (<hash>.namespaces, '
             'EUGridPMA format; <hash>.signing_policy, Globus EACL) limit '
             'the subjects each CA may issue, as canl-java\'s '
             'NamespaceCheckingMode. eugridpma_globus (default, as '
             'canl-java): the .namespaces rules for the issuing CA when '
             'there are any, else its .signing_policy rules, else no '
             'check; globus_eugridpma: the other way round; eugridpma / '
             'globus: that format only; eugridpma_and_globus: both formats '
             'where present. The _require variants also refuse a '
             'certificate whose CA has rules in neither format. ignore: '
             'no check. A policy file that does not parse permits '
             'nothing.'),
    cfg.IntOpt(
        'clock_skew', default=300, min=0, max=3600,
        help='Seconds of clock difference tolerated at the START of the '
             'validity of proxies, certificates\' CRLs and attribute '
             'certificates, and at the END of attribute certificates '
             '(whose clock is the VOMS server\'s). A proxy or certificate '
             'is refused from its notAfter on: the skew never extends a '
             'credential.'),
    cfg.FloatOpt(
        'trust_reload_interval', default=5.0, min=0,
        help='Seconds between checks of ca_path and vomsdir for changed '
             'files (new CRLs from fetch-crl, new LSC files); changes are '
             'picked up without restart.'),
    cfg.FloatOpt(
        'trust_reload_wait', default=0.02, min=0,
        help='Seconds the request that notices changed trust files waits '
             'for them to be loaded. Only the files that changed are read '
             'again, in a background thread; other requests keep using the '
             'material loaded before until the new one is swapped in, so a '
             'reload (fetch-crl rewriting every CRL) never stalls them. A '
             'new CRL takes effect when its load completes (milliseconds '
             'for one CRL).'),
    cfg.StrOpt(
        'service_host',
        help='Host name this service is known by, checked against the '
             'targets of a VOMS attribute certificate that names any. '
             'Defaults to the fully qualified host name of this machine.'),
    cfg.StrOpt(
        'pusp_robots_file',
        help='File listing the robot certificates whose per-user '
             'sub-proxies (EGI PUSP: the robot\'s first proxy carries the '
             'portal user in an extra CN, .../CN=Robot: portal/CN=user:jdoe) '
             'are distinct people, keyed by the whole PUSP DN. One robot a '
             'line: "<robot DN>" "<DN of the CA that issued it>", slash '
             'form, in double quotes; # starts a comment. Proxies of a robot '
             'not listed are the robot itself (one Keystone user). Unset: '
             'no robot is split. Read when Keystone starts.'),
]

mapping_opts = [
    cfg.StrOpt(
        'mapping_file', default='/etc/keystone/voms-auth-mapping.json',
        help='JSON file mapping VO / group / role memberships to Keystone '
             'projects and roles (see the mapping reference). Changes are '
             'picked up without restart; a broken file leaves the last good '
             'mapping in force and is logged.'),
    cfg.FloatOpt(
        'mapping_reload_interval', default=5.0, min=0,
        help='Seconds between checks of the mapping file for changes.'),
    cfg.StrOpt(
        'legacy_mapping_role', default='member',
        help='Role granted by a keystone-voms style mapping file '
             '(voms.json), which names no roles. keystone-voms granted its '
             '[voms] user_roles, _member_ by default; current Keystone '
             'calls that role member.'),
    cfg.StrOpt(
        'default_domain', default='Default',
        help='Name of the domain of projects that the mapping names without '
             'a domain (the mapping file may set its own default).'),
]

keystone_opts = [
    cfg.StrOpt(
        'identity_provider', default='voms-auth',
        help='Id of the Keystone identity provider under which grid users '
             'are recorded as federated users (protocol voms or oidc, '
             'unique id: a hash of credential kind, issuer and subject). '
             'voms-auth creates it in user_domain when it is missing. '
             'Disabling it in Keystone stops all grid logins.'),
    cfg.IntOpt(
        'authorization_ttl', default=10080, min=5, max=525600,
        help='Minutes the project roles a login gives stay valid without '
             'another successful login (default 7 days). Keystone itself '
             'stops honouring the group memberships after that: tokens, '
             'application credentials and trusts of a person who stopped '
             'logging in lose the roles. Written to the identity '
             'provider\'s authorization_ttl.'),
    cfg.BoolOpt(
        'require_approval', default=False,
        help='Create users only for people an admin approved: listed in '
             'the mapping\'s "approval" section, or pre-created with '
             '"voms-auth keystone approve". Others are refused with 401.'),
    cfg.StrOpt(
        'user_domain', default='Default',
        help='Name of the Keystone domain in which users are created at '
             'their first login. A dedicated domain (e.g. "grid") keeps grid '
             'users apart from local accounts; it must exist.'),
    cfg.ListOpt(
        'trusted_frontends', default=[],
        help='Addresses of TLS-terminating front ends (load balancers) '
             'allowed to pass the client certificate chain in the HTTP '
             'header named by client_cert_header. Empty (the default): '
             'headers are never read, only the TLS variables that mod_ssl '
             'sets (SSL_CLIENT_CERT, SSL_CLIENT_CERT_CHAIN_n).'),
    cfg.ListOpt(
        'proxy_identity_providers', default=[],
        help='Ids of Keystone identity providers whose federation URL with '
             'protocol mapped (/v3/OS-FEDERATION/identity_providers/<id>/'
             'protocols/mapped/auth, where EGI\'s v3voms client plugin '
             'posts) takes a VOMS proxy presented as the TLS client '
             'certificate, with [auth] mapped = voms_auth. Each id listed '
             'here (or in an issuer\'s identity_providers) is served by '
             'voms-auth; every other identity provider stays with '
             'Keystone\'s own mapped plugin. E.g. egi.eu.'),
    cfg.StrOpt(
        'client_cert_header', default='X-SSL-Client-Cert-Chain',
        help='HTTP header carrying the URL-encoded PEM client certificate '
             'chain (proxy first) from a trusted front end. Read only from '
             'the addresses in trusted_frontends.'),
    cfg.IntOpt(
        'verification_cache_size', default=4096, min=0,
        help='Verified credentials kept in memory per process, keyed by a '
             'fingerprint of the credential; 0 disables the cache.'),
    cfg.IntOpt(
        'verification_cache_ttl', default=300, min=0,
        help='Seconds a verification result is reused at most (never past '
             'the credential\'s own expiry). Bounds how long a freshly '
             'revoked credential keeps working.'),
    cfg.BoolOpt(
        'oidc_shared_cache', default=False,
        deprecated_opts=[cfg.DeprecatedOpt('shared_cache', group=GROUP)],
        help='Share OIDC introspection and userinfo results across Keystone '
             'nodes through the oslo.cache backend configured in [cache]; '
             'otherwise each process keeps its own bounded cache.'),
]


oidc_opts = [
    cfg.ListOpt(
        'oidc_issuers', default=[],
        help='Names of the trusted OIDC token issuers. Each name NAME has '
             'its own [voms_auth_issuer:NAME] section. Empty: OIDC access '
             'tokens are not accepted.'),
    cfg.FloatOpt(
        'oidc_http_timeout', default=5.0, min=0.1,
        help='Total seconds each request to an identity provider '
             '(discovery, keys, introspection, userinfo) may take: '
             'connecting, sending and reading the whole answer. A provider '
             'answering slowly is cut off at this deadline and the token '
             'refused.'),
    cfg.IntOpt(
        'oidc_max_concurrent_calls', default=4, min=1,
        help='Requests per process that may wait on or talk to one identity '
             'provider at the same time; further requests needing that '
             'provider are refused at once (401). Bounds the workers a hung '
             'provider can hold.'),
    cfg.FloatOpt(
        'oidc_retry_backoff', default=5.0, min=0,
        help='Seconds during which an identity provider whose discovery or '
             'key fetch failed is not asked again; tokens that need it are '
             'refused at once meanwhile. Doubled after each further '
             'failure, up to oidc_retry_backoff_max.'),
    cfg.FloatOpt(
        'oidc_retry_backoff_max', default=300.0, min=0,
        help='Longest back-off, in seconds, after repeated failures of an '
             'identity provider\'s discovery or key fetch.'),
    cfg.FloatOpt(
        'oidc_negative_cache_ttl', default=60.0, min=0,
        help='Seconds an opaque token that introspection said is not active '
             'is refused without asking the provider again (0: ask every '
             'time).'),
    cfg.FloatOpt(
        'oidc_introspection_rate', default=10.0, min=0,
        help='Introspection requests per second and issuer for tokens not '
             'in the cache (0: unlimited); beyond it unknown opaque tokens '
             'are refused at once, so a flood of bogus tokens cannot hammer '
             'the provider or stall Keystone.'),
    cfg.IntOpt(
        'oidc_introspection_burst', default=20, min=1,
        help='Introspection requests allowed in a burst above '
             'oidc_introspection_rate.'),
    cfg.IntOpt(
        'oidc_leeway', default=30, min=0, max=300,
        help='Seconds of clock skew tolerated when checking the exp, nbf '
             'and iat claims of a token.'),
    cfg.FloatOpt(
        'oidc_jwks_refetch_interval', default=30.0, min=0,
        help='Minimum seconds between two fetches of an issuer\'s keys '
             'triggered by tokens naming an unknown key id (kid), so bogus '
             'tokens cannot hammer the provider.'),
    cfg.FloatOpt(
        'oidc_jwks_max_age', default=3600.0, min=1,
        help='Seconds after which an issuer\'s cached keys are fetched '
             'again. If that fails the cached keys remain in use.'),
    cfg.FloatOpt(
        'oidc_cache_ttl', default=300.0, min=0,
        help='Upper bound, in seconds, on how long an introspection or '
             'userinfo answer is reused (never beyond the token\'s '
             'expiry). A revoked opaque token may be accepted this long.'),
]

#: Options of each ``[voms_auth_issuer:NAME]`` group.
issuer_opts = [
    cfg.StrOpt(
        'issuer',
        help='Issuer URL, exactly as in the tokens\' iss claim and the '
             'provider\'s discovery document (https; plain http only for '
             'loopback test providers). Required.'),
    cfg.StrOpt(
        'audience',
        help='Audience this service expects in the aud claim (for '
             'introspected tokens, in the introspection answer). Required '
             'unless accept_any_audience is set.'),
    cfg.BoolOpt(
        'accept_any_audience', default=False,
        help='Accept tokens whatever their audience: tokens the provider '
             'issued to any of its clients (another service, a user\'s '
             'script) then log in here. Only for providers that put no '
             'audience in their tokens; a warning is logged at start.'),
    cfg.ListOpt(
        'allowed_endpoint_hosts', default=[],
        help='Hosts other than the issuer\'s own that the provider\'s '
             'discovery document may point to for its keys, introspection '
             'and userinfo endpoints (always https). Empty: only the '
             'issuer\'s host.'),
    cfg.ListOpt(
        'identity_providers', default=[],
        help='Ids of Keystone identity providers whose federation URLs '
             '(/v3/OS-FEDERATION/identity_providers/<id>/protocols/openid/'
             'auth, as keystoneauth1\'s v3oidc* plugins and fedcloudclient '
             'use them) take this issuer\'s access tokens, with [auth] '
             'openid = voms_auth: what the remote_ids of such an identity '
             'provider list in Keystone. A token of another issuer on that '
             'URL is refused. Each id listed here is served by voms-auth; '
             'every other identity provider stays with Keystone\'s own '
             'mapped plugin. E.g. egi.eu.'),
    cfg.ListOpt(
        'groups_claims', default=list(DEFAULT_GROUPS_CLAIMS),
        help='Claims that carry VO memberships: eduperson_entitlement '
             '(AARC-G002/G069 entitlements), wlcg.groups (WLCG profile), '
             'or e.g. groups (plain vo/group paths). Only list groups if '
             'the issuer\'s groups are VO groups.'),
    cfg.ListOpt(
        'name_claims', default=list(DEFAULT_NAME_CLAIMS),
        help='Claims tried, in order, for the readable user name.'),
    cfg.StrOpt(
        'client_id',
        help='Client id for RFC 7662 token introspection.'),
    cfg.StrOpt(
        'client_secret', secret=True,
        help='Client secret for RFC 7662 token introspection.'),
    cfg.BoolOpt(
        'use_userinfo', default=False,
        help='Ask the userinfo endpoint for claims the token lacks (EGI '
             'Check-in puts eduperson_entitlement there). Each new token '
             'then needs the provider to be reachable.'),
    cfg.StrOpt(
        'token_type', default=AUTO, choices=[
            (AUTO, 'JWTs verified locally, other tokens introspected'),
            (JWT, 'JWTs only, verified locally'),
            (OPAQUE, 'every token introspected')],
        help='How this issuer\'s access tokens are validated. An opaque '
             'token names no issuer: with several issuers that introspect, '
             'it is offered to each in turn (in oidc_issuers order) until '
             'one knows it, so only list providers that may see each '
             'other\'s tokens.'),
    cfg.ListOpt(
        'algorithms', default=list(ALLOWED_ALGORITHMS),
        help='JWS algorithms accepted from this issuer; a subset of %s '
             '(never none or HMAC).' % ', '.join(ALLOWED_ALGORITHMS)),
    cfg.StrOpt(
        'ca_file',
        help='CA bundle to verify the provider\'s TLS certificate with. '
             'Unset: the system CAs.'),
]


def _own_opts():
    return voms_opts + mapping_opts + keystone_opts + oidc_opts


def register_opts(conf):
    """Register every ``[voms_auth]`` option on ``conf`` (idempotent)."""
    conf.register_opts(_own_opts(), group=GROUP)


def list_opts():
    """Options for ``oslo-config-generator`` (namespace ``voms_auth``); the
    per-issuer group is shown once as ``[voms_auth_issuer:<name>]``."""
    return [(GROUP, _own_opts()),
            (ISSUER_GROUP_PREFIX + '<name>', list(issuer_opts))]


def load_issuers(conf):
    """The issuers ``conf`` lists, as ``IssuerConfig`` objects.

    Registers the ``[voms_auth]`` options and one ``[voms_auth_issuer:NAME]``
    group per name in ``oidc_issuers`` on ``conf`` (a parsed ``ConfigOpts``).

    :raises OIDCConfigurationError: a name is listed twice, or a listed
        issuer has no section or an unusable value.
    """
    register_opts(conf)
    names = [n.strip() for n in conf[GROUP].oidc_issuers if n.strip()]
    if len(set(names)) != len(names):
        raise oidc_errors.OIDCConfigurationError(
            '[%s] oidc_issuers names an issuer twice' % GROUP)
    return tuple(_issuer(conf, name) for name in names)


def _issuer(conf, name):
    """The ``IssuerConfig`` of ``[voms_auth_issuer:NAME]``.

    :raises OIDCConfigurationError: naming the section.
    """
    group = ISSUER_GROUP_PREFIX + name
    conf.register_opts(issuer_opts, group=group)
    section = conf[group]
    try:
        url = section.issuer
        if url:
            return IssuerConfig(
                name=name, issuer=url, audience=section.audience,
                groups_claims=tuple(section.groups_claims),
                name_claims=tuple(section.name_claims),
                client_id=section.client_id,
                client_secret=section.client_secret,
                use_userinfo=section.use_userinfo,
                token_type=section.token_type,
                algorithms=tuple(section.algorithms),
                ca_file=section.ca_file,
                accept_any_audience=section.accept_any_audience,
                allowed_endpoint_hosts=tuple(
                    section.allowed_endpoint_hosts))
    except (cfg.Error, ValueError, oidc_errors.OIDCConfigurationError) as exc:
        raise oidc_errors.OIDCConfigurationError(
            '[%s]: %s' % (group, exc)) from None
    raise oidc_errors.OIDCConfigurationError(
        '[%s] issuer is not set (is the section missing?)' % group)


def federation_identity_providers(conf):
    """Which Keystone identity providers voms-auth serves on Keystone's
    federation URLs: ``(issuers, proxies)``, where ``issuers`` is
    ``{identity provider id: frozenset of issuer URLs}`` (from each
    issuer's ``identity_providers``) and ``proxies`` the frozenset of
    ``[voms_auth] proxy_identity_providers``.

    :raises OIDCConfigurationError: an issuer section is unusable.
    """
    issuers = {}
    for config in load_issuers(conf):
        group = conf[ISSUER_GROUP_PREFIX + config.name]
        for idp in _ids(group.identity_providers):
            issuers.setdefault(idp, set()).add(config.issuer)
    proxies = frozenset(_ids(conf[GROUP].proxy_identity_providers))
    return ({idp: frozenset(urls) for idp, urls in issuers.items()},
            proxies)


def _ids(values):
    return [value.strip() for value in values or () if value.strip()]


def build_verifier(conf):
    """The VOMS :class:`~voms_auth.voms.Verifier` of ``[voms_auth]``: trust
    store from ``ca_path``/``vomsdir``, PUSP robots from
    ``pusp_robots_file``, result cache of
    ``verification_cache_size`` entries kept ``verification_cache_ttl``
    seconds at most. ``conf`` must have the options registered."""
    from voms_auth import voms

    opts = conf[GROUP]
    robots = None
    if opts.pusp_robots_file:
        from voms_auth.voms import robots as robots_mod
        robots = robots_mod.PuspRobots.load(opts.pusp_robots_file)
    return voms.Verifier(
        build_trust_store(conf),
        service_host=opts.service_host or socket.getfqdn(),
        cache_size=opts.verification_cache_size,
        cache_ttl=opts.verification_cache_ttl, pusp_robots=robots)


def build_trust_store(conf):
    """The VOMS :class:`~voms_auth.voms.TrustStore` of ``[voms_auth]``
    (``ca_path``, ``vomsdir``, CRL, clock skew and namespace options), as
    Keystone uses it. ``conf`` must have the options registered."""
    from voms_auth import voms

    opts = conf[GROUP]
    return voms.TrustStore(
        opts.ca_path, opts.vomsdir,
        allow_expired_crl=opts.allow_expired_crl,
        clock_skew=datetime.timedelta(seconds=opts.clock_skew),
        refresh_interval=opts.trust_reload_interval,
        reload_wait=opts.trust_reload_wait,
        crl_grace_period=datetime.timedelta(seconds=opts.crl_grace_period),
        crl_grace_overrides=_grace_overrides(opts.crl_grace_overrides),
        namespace_checking=opts.namespace_checking)


def _grace_overrides(values):
    """``[voms_auth] crl_grace_overrides`` as {hash: timedelta}.

    :raises ConfigurationError: a value is not a whole number of seconds
        of 0 or more (the hashes are checked by the trust store)."""
    overrides = {}
    for ca_hash, seconds in (values or {}).items():
        try:
            value = int(seconds)
        except (TypeError, ValueError):
            value = -1
        if value < 0:
            raise errors.ConfigurationError(
                '[voms_auth] crl_grace_overrides: %s:%s is not <CA subject '
                'hash>:<seconds of 0 or more>' % (ca_hash, seconds))
        overrides[ca_hash] = datetime.timedelta(seconds=value)
    return overrides


def shared_cache_region(conf):
    """The oslo.cache region OIDC provider answers are shared through
    (configured from ``[cache]``), or ``None`` unless ``[voms_auth]
    oidc_shared_cache`` is set."""
    if not conf[GROUP].oidc_shared_cache:
        return None
    from oslo_cache import core as cache_core

    region = cache_core.create_region()
    cache_core.configure_cache_region(conf, region)
    return region


def build_token_validator(conf, cache_region=None, *, shared=True):
    """The OIDC :class:`~voms_auth.oidc.TokenValidator` of the issuers and
    settings in ``conf``.

    Its result cache holds ``verification_cache_size`` identities for
    ``verification_cache_ttl`` seconds at most. Provider answers are shared
    through ``cache_region`` when given, else (with ``shared``) through
    :func:`shared_cache_region`.

    :raises OIDCConfigurationError: no issuers, or an unusable one.
    """
    from voms_auth.oidc import validator

    issuers = load_issuers(conf)
    if not issuers:
        raise oidc_errors.OIDCConfigurationError(
            'no OIDC issuers configured ([%s] oidc_issuers)' % GROUP)
    if cache_region is None and shared:
        cache_region = shared_cache_region(conf)
    opts = conf[GROUP]
    return validator.TokenValidator(
        issuers, cache=cache_region, http_timeout=opts.oidc_http_timeout,
        leeway=opts.oidc_leeway,
        jwks_refetch_interval=opts.oidc_jwks_refetch_interval,
        jwks_max_age=opts.oidc_jwks_max_age,
        answer_ttl=opts.oidc_cache_ttl,
        cache_size=opts.verification_cache_size,
        cache_ttl=opts.verification_cache_ttl,
        max_calls=opts.oidc_max_concurrent_calls,
        backoff=opts.oidc_retry_backoff,
        backoff_max=opts.oidc_retry_backoff_max,
        negative_ttl=opts.oidc_negative_cache_ttl,
        introspection_rate=opts.oidc_introspection_rate,
        introspection_burst=opts.oidc_introspection_burst)


def build_mapping_file(conf):
    """The :class:`~voms_auth.mapping.MappingFile` of ``[voms_auth]
    mapping_file`` (reloaded every ``mapping_reload_interval`` seconds).

    :raises MappingError: the file cannot be loaded.
    """
    from voms_auth import mapping

    opts = conf[GROUP]
    return mapping.MappingFile(
        opts.mapping_file, default_domain=opts.default_domain,
        legacy_role=opts.legacy_mapping_role,
        check_interval=opts.mapping_reload_interval)
