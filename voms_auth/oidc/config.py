"""oslo.config options for trusted token issuers (e.g. in keystone.conf).

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
    groups_claims = wlcg.groups

:func:`list_opts` feeds ``oslo-config-generator`` (the per-issuer group is
shown once as ``[voms_auth_issuer:<name>]``); :func:`load_issuers` registers
one group per listed name and builds the
:class:`~voms_auth.oidc.IssuerConfig` objects; :func:`validator_from_conf`
builds a :class:`~voms_auth.oidc.TokenValidator` from it all.
"""

from oslo_config import cfg

from voms_auth.oidc import errors, issuer, validator

GROUP = 'voms_auth'
ISSUER_GROUP_PREFIX = 'voms_auth_issuer:'

GLOBAL_OPTS = [
    cfg.ListOpt(
        'oidc_issuers', default=[],
        help='Names of the trusted OIDC token issuers. Each name NAME has '
             'its own [voms_auth_issuer:NAME] section. Empty: OIDC access '
             'tokens are not accepted.'),
    cfg.FloatOpt(
        'oidc_http_timeout', default=5.0, min=0.1,
        help='Seconds to wait for each request to an identity provider '
             '(discovery, keys, introspection, userinfo).'),
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

ISSUER_OPTS = [
    cfg.StrOpt(
        'issuer',
        help='Issuer URL, exactly as in the tokens\' iss claim and the '
             'provider\'s discovery document (https; plain http only for '
             'loopback test providers). Required.'),
    cfg.StrOpt(
        'audience',
        help='Audience this service expects in the aud claim (for '
             'introspected tokens, in the introspection answer). Unset: '
             'aud is not checked - set it whenever the issuer puts one.'),
    cfg.ListOpt(
        'groups_claims', default=list(issuer.DEFAULT_GROUPS_CLAIMS),
        help='Claims that carry VO memberships: eduperson_entitlement '
             '(AARC-G002/G069 entitlements), wlcg.groups (WLCG profile), '
             'or e.g. groups (plain vo/group paths). Only list groups if '
             'the issuer\'s groups are VO groups.'),
    cfg.ListOpt(
        'name_claims', default=list(issuer.DEFAULT_NAME_CLAIMS),
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
        'token_type', default=issuer.AUTO, choices=[
            (issuer.AUTO, 'JWTs verified locally, other tokens '
                          'introspected'),
            (issuer.JWT, 'JWTs only, verified locally'),
            (issuer.OPAQUE, 'every token introspected')],
        help='How this issuer\'s access tokens are validated. An opaque '
             'token names no issuer: with several issuers that introspect, '
             'it is offered to each in turn (in oidc_issuers order) until '
             'one knows it, so only list providers that may see each '
             'other\'s tokens.'),
    cfg.ListOpt(
        'algorithms', default=list(issuer.ALLOWED_ALGORITHMS),
        help='JWS algorithms accepted from this issuer; a subset of %s '
             '(never none or HMAC).' % ', '.join(issuer.ALLOWED_ALGORITHMS)),
    cfg.StrOpt(
        'ca_file',
        help='CA bundle to verify the provider\'s TLS certificate with. '
             'Unset: the system CAs.'),
]


def list_opts():
    """Options for ``oslo-config-generator``: ``[(group, opts)]``."""
    return [(GROUP, GLOBAL_OPTS),
            (ISSUER_GROUP_PREFIX + '<name>', ISSUER_OPTS)]


def register_opts(conf):
    conf.register_opts(GLOBAL_OPTS, group=GROUP)


def load_issuers(conf):
    """The issuers ``conf`` lists, as ``IssuerConfig`` objects.

    Registers ``[voms_auth] oidc_issuers`` and one ``[voms_auth_issuer:NAME]``
    group per listed name on ``conf`` (an already parsed ``ConfigOpts``).

    :raises OIDCConfigurationError: a listed issuer has no section or an
        unusable value.
    """
    register_opts(conf)
    names = [n.strip() for n in conf[GROUP].oidc_issuers if n.strip()]
    if len(set(names)) != len(names):
        raise errors.OIDCConfigurationError(
            '[%s] oidc_issuers names an issuer twice' % GROUP)
    result = []
    for name in names:
        group = ISSUER_GROUP_PREFIX + name
        conf.register_opts(ISSUER_OPTS, group=group)
        section = conf[group]
        try:
            url = section.issuer
        except (cfg.Error, ValueError) as exc:
            raise errors.OIDCConfigurationError(
                '[%s]: %s' % (group, exc)) from None
        if not url:
            raise errors.OIDCConfigurationError(
                '[%s] issuer is not set (is the section missing?)' % group)
        try:
            result.append(issuer.IssuerConfig(
                name=name,
                issuer=url,
                audience=section.audience,
                groups_claims=tuple(section.groups_claims),
                name_claims=tuple(section.name_claims),
                client_id=section.client_id,
                client_secret=section.client_secret,
                use_userinfo=section.use_userinfo,
                token_type=section.token_type,
                algorithms=tuple(section.algorithms),
                ca_file=section.ca_file,
            ))
        except (cfg.Error, ValueError) as exc:
            raise errors.OIDCConfigurationError(
                '[%s]: %s' % (group, exc)) from None
        except errors.OIDCConfigurationError as exc:
            raise errors.OIDCConfigurationError(
                '[%s]: %s' % (group, exc)) from None
    return tuple(result)


def validator_from_conf(conf, *, cache=None):
    """A :class:`~voms_auth.oidc.TokenValidator` for the issuers and
    settings in ``conf``; ``cache`` as for the validator (e.g. an oslo.cache
    region).

    :raises OIDCConfigurationError: no issuers, or an unusable one.
    """
    issuers = load_issuers(conf)
    if not issuers:
        raise errors.OIDCConfigurationError(
            'no OIDC issuers configured ([%s] oidc_issuers)' % GROUP)
    opts = conf[GROUP]
    return validator.TokenValidator(
        issuers, cache=cache, http_timeout=opts.oidc_http_timeout,
        leeway=opts.oidc_leeway,
        jwks_refetch_interval=opts.oidc_jwks_refetch_interval,
        jwks_max_age=opts.oidc_jwks_max_age,
        cache_ttl=opts.oidc_cache_ttl)
