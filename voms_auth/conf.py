"""oslo.config options of voms-auth (group ``[voms_auth]``).

``register_opts(conf)`` adds them to a ``ConfigOpts`` (Keystone's global
``CONF`` inside Keystone); ``list_opts()`` feeds ``oslo-config-generator``.
Per-issuer OIDC options live in :mod:`voms_auth.oidc.config`.
"""

from oslo_config import cfg

GROUP = 'voms_auth'

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
        'clock_skew', default=300, min=0, max=3600,
        help='Seconds of clock difference tolerated when checking the '
             'validity windows of proxies and attribute certificates.'),
    cfg.FloatOpt(
        'trust_reload_interval', default=5.0, min=0,
        help='Seconds between checks of ca_path and vomsdir for changed '
             'files (new CRLs from fetch-crl, new LSC files); changes are '
             'picked up without restart.'),
    cfg.StrOpt(
        'service_host',
        help='Host name this service is known by, checked against the '
             'targets of a VOMS attribute certificate that names any. '
             'Defaults to the fully qualified host name of this machine.'),
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
        'shared_cache', default=False,
        help='Share OIDC introspection and userinfo results across Keystone '
             'nodes through the oslo.cache backend configured in [cache]; '
             'otherwise each process keeps its own bounded cache.'),
]


def _own_opts():
    return voms_opts + mapping_opts + keystone_opts


def register_opts(conf):
    """Register the ``[voms_auth]`` options (and OIDC's) on ``conf``."""
    from voms_auth.oidc import config as oidc_config

    conf.register_opts(_own_opts(), group=GROUP)
    for group, opts in oidc_config.list_opts():
        if group == GROUP:
            conf.register_opts(opts, group=GROUP)


def list_opts():
    """Options for ``oslo-config-generator`` (namespace ``voms_auth``)."""
    from voms_auth.oidc import config as oidc_config

    result = [(GROUP, list(_own_opts()))]
    for group, opts in oidc_config.list_opts():
        if group == GROUP:
            result[0][1].extend(opts)
        else:
            result.append((group, list(opts)))
    return result
