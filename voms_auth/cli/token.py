"""``voms-auth verify-token``: validate an OIDC access token.

``voms-auth verify-token [--config FILE | --issuer URL (--audience AUD |
--any-audience)] TOKEN`` (``-`` reads the token from stdin) prints the
identity as JSON (exit 0), ``error: <reason>`` for a refused token (exit
1), or a usage / configuration error (exit 2). ``--config`` reads the
``[voms_auth]`` and ``[voms_auth_issuer:NAME]`` sections of an ini file
such as keystone.conf.
"""

import os

from oslo_config import cfg

from voms_auth import cli, conf
from voms_auth.oidc import errors, issuer, validator

SECRET_ENV = 'VOMS_AUTH_OIDC_CLIENT_SECRET'  # noqa: S105 - a variable name


def register(subparsers):
    parser = subparsers.add_parser(
        'verify-token',
        help='validate an OIDC access token and print the identity',
        description='Validate an OIDC access token (JWT or opaque) against '
                    'the trusted issuers and print issuer, subject, name, '
                    'memberships and expiry as JSON. Exit 1 when the token '
                    'is refused, 2 on usage or configuration errors.')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        '--config', metavar='FILE',
        help='ini file with [voms_auth] oidc_issuers and '
             '[voms_auth_issuer:NAME] sections (e.g. keystone.conf)')
    source.add_argument(
        '--issuer', metavar='URL',
        help='trust this one issuer (discovery at '
             'URL/.well-known/openid-configuration)')
    audience = parser.add_mutually_exclusive_group()
    audience.add_argument(
        '--audience', metavar='AUD',
        help='with --issuer: the audience the token must be for')
    audience.add_argument(
        '--any-audience', action='store_true',
        help='with --issuer: accept the token whatever its audience')
    parser.add_argument(
        '--client-id', metavar='ID',
        help='with --issuer: client id for introspection of opaque tokens; '
             'the secret is read from $%s' % SECRET_ENV)
    parser.add_argument(
        '--userinfo', action='store_true',
        help='with --issuer: ask the userinfo endpoint for missing claims')
    parser.add_argument('token', metavar='TOKEN',
                        help='the access token, or - to read it from stdin')
    parser.set_defaults(func=verify_token)


def _validator_from_args(args):
    if args.config:
        if (args.audience or args.any_audience or args.client_id
                or args.userinfo):
            raise cli.UsageError('--audience, --any-audience, --client-id '
                                 'and --userinfo go with --issuer, not '
                                 '--config')
        if not os.path.isfile(args.config):
            raise cli.UsageError('cannot read %s' % args.config)
        opts = cfg.ConfigOpts()
        try:
            opts(args=[], project='voms-auth',
                 default_config_files=[args.config],
                 default_config_dirs=[])
            return conf.build_token_validator(opts, shared=False)
        except cfg.Error as exc:
            raise errors.OIDCConfigurationError(
                '%s: %s' % (args.config, exc)) from None
    secret = os.environ.get(SECRET_ENV) if args.client_id else None
    if args.client_id and not secret:
        raise cli.UsageError('--client-id needs the client secret in $%s'
                             % SECRET_ENV)
    if not args.audience and not args.any_audience:
        raise cli.UsageError('--issuer needs --audience AUD (or '
                             '--any-audience)')
    return validator.TokenValidator([issuer.IssuerConfig(
        issuer=args.issuer, audience=args.audience,
        accept_any_audience=args.any_audience,
        client_id=args.client_id, client_secret=secret,
        use_userinfo=args.userinfo)])


def verify_token(args):
    text = args.token
    if text == '-':  # noqa: S105 - the stdin marker, not a password
        text = cli.read_input(text)
    token_validator = _validator_from_args(args)
    ident = token_validator.validate(text.strip())
    cli.print_json({
        'issuer': ident.issuer,
        'subject': ident.subject,
        'name': ident.name,
        'memberships': [m.as_dict() for m in ident.memberships],
        'expires_at': ident.as_dict()['expires_at'],
    })
    return cli.EXIT_OK
