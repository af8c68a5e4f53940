"""``voms-auth mapping``: check, explain and convert mapping files."""

import datetime
import json
import sys

from voms_auth import errors, identity
from voms_auth.cli import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    UsageError,
    print_json,
    read_input,
)
from voms_auth.cli import proxy as proxy_cli

#: Placeholders of the identity built from ``--fqan`` / ``--entitlement``.
CLI_SUBJECT = '(command line: no subject)'
CLI_ISSUER = '(command line: no issuer)'


def register(subparsers):
    parser = subparsers.add_parser(
        'mapping', help='check, explain or convert a mapping file')
    commands = parser.add_subparsers(dest='mapping_command',
                                     metavar='ACTION')
    commands.required = True

    check = commands.add_parser(
        'check', help='check a mapping file; list every problem')
    check.add_argument('file', metavar='FILE')
    _common(check)
    check.set_defaults(func=_check)

    explain = commands.add_parser(
        'explain', help='show what a credential gets under a mapping file')
    explain.add_argument('file', metavar='FILE')
    _common(explain)
    given = explain.add_mutually_exclusive_group(required=True)
    given.add_argument('--proxy', metavar='FILE',
                       help='a VOMS proxy (PEM, "-" for stdin), verified')
    given.add_argument('--token', metavar='TOKEN',
                       help='an OIDC access token ("-" for stdin), '
                            'validated')
    given.add_argument('--fqan', metavar='FQAN', action='append',
                       help='an FQAN (repeat, in credential order); '
                            'nothing is verified')
    given.add_argument('--entitlement', metavar='URN', action='append',
                       help='an AARC entitlement (repeat); nothing is '
                            'verified')
    explain.add_argument('--robot', action='store_true',
                         help='the --fqan identity is a robot certificate')
    explain.add_argument('--generic-attribute', metavar='NAME=VALUE',
                         action='append', default=[],
                         help='a VOMS Generic Attribute of the --fqan '
                              'identity, stated in each of its VOs '
                              '(repeat)')
    explain.add_argument('--issuer', metavar='URL',
                         help='token issuer of the --entitlement identity')
    explain.add_argument('--ca-path', default='/etc/grid-security/'
                         'certificates', help='trusted CAs (for --proxy)')
    explain.add_argument('--vomsdir', default='/etc/grid-security/vomsdir',
                         help='VOMS .lsc files (for --proxy)')
    proxy_cli.add_pusp_option(explain)
    explain.add_argument('--config', metavar='FILE',
                         help='configuration file (e.g. keystone.conf) '
                              'with the trusted OIDC issuers (for --token)')
    explain.set_defaults(func=_explain)

    schema = commands.add_parser(
        'schema', help='print the JSON Schema of the mapping format')
    schema.set_defaults(func=_schema)

    convert = commands.add_parser(
        'convert', help='convert a keystone-voms voms.json')
    convert.add_argument('file', metavar='OLD.json')
    convert.add_argument('--role', default='member',
                         help='role to grant (keystone-voms files name '
                              'none; default: %(default)s)')
    convert.add_argument('--domain', help='domain of the projects '
                         '(default: the configured default domain)')
    convert.add_argument('-o', '--output', metavar='FILE',
                         help='write here instead of stdout')
    convert.set_defaults(func=_convert, default_domain='Default',
                         legacy_role='member')


def _common(parser):
    parser.add_argument('--default-domain', default='Default',
                        help='domain of grants that name none '
                             '(default: %(default)s)')
    parser.add_argument('--legacy-role', default='member',
                        help='role a keystone-voms file grants '
                             '(default: %(default)s)')


def _load(args):
    from voms_auth import mapping
    options = {'default_domain': args.default_domain,
               'legacy_role': args.legacy_role}
    if args.file == '-':
        return mapping.parse_mapping(read_input('-', 'rb'), source='-',
                                     **options)
    return mapping.load_mapping(args.file, **options)


def _problems(exc, code):
    for problem in exc.problems:
        sys.stderr.write('error: %s\n' % ' '.join(problem.split()))
    return code


def _warnings(loaded):
    """Print the mapping's warnings to stderr (they never change the exit
    code)."""
    for warning in loaded.warnings:
        sys.stderr.write('warning: %s\n' % warning)


def _check(args):
    from voms_auth import mapping
    try:
        loaded = _load(args)
    except mapping.MappingError as exc:
        return _problems(exc, EXIT_REFUSED)
    _warnings(loaded)
    print(loaded.summary())
    return EXIT_OK


def _explain(args):
    from voms_auth import mapping
    if args.issuer and not args.entitlement:
        raise UsageError('--issuer goes with --entitlement')
    try:
        loaded = _load(args)
    except mapping.MappingError as exc:
        return _problems(exc, EXIT_USAGE)
    person = _identity(args)
    result = loaded.evaluate(person)
    out = {'mapping': {'file': args.file, 'format': loaded.format},
           'identity': _shown(person)}
    out.update(result.as_dict())
    print_json(out)
    _warnings(loaded)
    return _verdict(result)


def _shown(person):
    """The identity as ``explain`` shows it: its fields, each
    membership's source, whether it is a robot (and the PUSP robot and
    user), and the Generic Attributes per VO the mapping can match."""
    attributes = person.attributes
    shown = dict(person.as_dict(), memberships=[
        dict(m.as_dict(), source=m.source) for m in person.memberships])
    shown['robot'] = bool(attributes.get('robot'))
    shown['pusp'] = ({'robot': attributes['pusp_robot'],
                      'user': attributes['pusp_user']}
                     if 'pusp_robot' in attributes else None)
    shown['generic_attributes'] = [
        {'vo': vo, 'name': name, 'value': value} for vo, name, value in
        sorted(attributes.get('vo_generic_attributes', ()))]
    return shown


def _verdict(result):
    """Say on stderr why a login would be refused or need approval; the
    exit code: 0 with grants, else 1."""
    from voms_auth import mapping
    if result.denied_by is not None:
        deny = result.denied_by
        sys.stderr.write('error: denied by %s: %s; the login would be '
                         'refused\n' % (deny.name, deny.description or
                                        json.dumps(deny.match.as_dict())))
        return EXIT_REFUSED
    if not result.grants:
        sys.stderr.write('error: no rule matches; the login would be '
                         'refused\n')
        return EXIT_REFUSED
    if result.approval == mapping.APPROVAL_NOT_LISTED:
        sys.stderr.write('note: approval is required and this person is '
                         'not listed in /approval/people; the login '
                         'succeeds only if an admin created their Keystone '
                         'user beforehand\n')
    return EXIT_OK


def _identity(args):
    if (args.robot or args.generic_attribute) and not args.fqan:
        raise UsageError('--robot and --generic-attribute go with --fqan')
    if args.fqan:
        memberships = [_fqan(f) for f in args.fqan]
        return _synthetic(identity.KIND_VOMS, CLI_ISSUER, memberships,
                          robot=args.robot, vo_generic_attributes=frozenset(
                              (m.vo,) + _name_value(text)
                              for text in args.generic_attribute
                              for m in memberships))
    if args.entitlement:
        return _synthetic(identity.KIND_OIDC, args.issuer or CLI_ISSUER,
                          [_entitlement(e) for e in args.entitlement])
    if args.proxy:
        return _proxy_identity(args)
    return _token_identity(args)


def _synthetic(kind, issuer, memberships, **attributes):
    # Nothing was verified: placeholders say so, and it expires in an hour.
    now = datetime.datetime.now(datetime.timezone.utc)
    return identity.Identity(
        kind=kind, issuer=issuer, subject=CLI_SUBJECT,
        name='(command line)', memberships=memberships,
        expires_at=now + datetime.timedelta(hours=1),
        attributes=dict(attributes, verified=False))


def _name_value(text):
    """``(name, value)`` of ``--generic-attribute NAME=VALUE``.

    :raises UsageError: no ``=`` or an empty name."""
    name, sep, value = text.partition('=')
    if not sep or not name:
        raise UsageError('--generic-attribute %s is not NAME=VALUE' % text)
    return name, value


def _fqan(text):
    from voms_auth.voms import fqan
    try:
        return fqan.parse_fqan(text)
    except fqan.InvalidFQAN as exc:
        raise errors.CredentialError(str(exc)) from None


def _entitlement(text):
    from voms_auth.oidc import entitlements
    membership = entitlements.parse_entitlement(text)
    if membership is None:
        raise errors.CredentialError(
            'entitlement %s is not an AARC group entitlement '
            '(urn:...:group:<vo>[:<subgroup>...][:role=<role>][#<authority>])'
            % json.dumps(text))
    return membership


def _proxy_identity(args):
    # Imported here: the VOMS verifier is optional for the other actions.
    try:
        from voms_auth.voms import TrustStore, Verifier
    except ImportError:
        raise errors.ConfigurationError(
            'VOMS proxy verification is not available in this '
            'installation') from None
    data = read_input(args.proxy, 'rb')
    return Verifier(TrustStore(args.ca_path, args.vomsdir),
                    pusp_robots=proxy_cli.load_pusp(args)).verify_pem(
        data).identity()


def _token_identity(args):
    # Imported here: the OIDC validator is optional for the other actions.
    try:
        from oslo_config import cfg

        from voms_auth import conf as voms_conf
    except ImportError:
        raise errors.ConfigurationError(
            'OIDC token validation is not available in this '
            'installation') from None
    conf = cfg.ConfigOpts()
    voms_conf.register_opts(conf)
    try:
        conf(args=[], project='voms-auth',
             default_config_files=[args.config] if args.config else [])
    except cfg.Error as exc:
        raise UsageError('cannot read %s: %s' % (args.config, exc)) from None
    token = args.token
    if token == '-':  # noqa: S105 - "-" means stdin, it is no password
        token = read_input('-').strip()
    return voms_conf.build_token_validator(conf, shared=False).validate(
        token)


def _schema(args):
    from voms_auth import mapping
    print_json(mapping.schema())
    return EXIT_OK


def _convert(args):
    from voms_auth import mapping
    try:
        old = _load(args)
        document, notes = mapping.convert_legacy(
            old, role=args.role, domain=args.domain)
        # The result must itself be a good mapping; never write one that
        # is not.
        mapping.parse_mapping(document, source='converted mapping',
                              default_domain=args.default_domain)
    except mapping.MappingError as exc:
        return _problems(exc, EXIT_USAGE)
    text = json.dumps(document, indent=2) + '\n'
    if args.output:
        try:
            with open(args.output, 'w', encoding='utf-8') as handle:
                handle.write(text)
        except OSError as exc:
            raise UsageError('cannot write %s: %s'
                             % (args.output, exc.strerror or exc)) from None
    else:
        sys.stdout.write(text)
    for note in notes:
        sys.stderr.write('note: %s\n' % note)
    return EXIT_OK
