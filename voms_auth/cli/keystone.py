"""``voms-auth keystone``: admin actions on grid users in Keystone.

``approve`` pre-creates a person's user (the approval mode admits them),
``link`` makes an existing user (e.g. one keystone-voms created, named by
DN) the user of a person, ``show`` prints a person's user and memberships.
``approve`` and ``link`` change nothing without ``--apply``.
"""

from voms_auth import cli


def register(subparsers):
    parser = subparsers.add_parser(
        'keystone', help='approve, link or show grid users in Keystone',
        description=__doc__)
    actions = parser.add_subparsers(dest='action', metavar='ACTION',
                                    parser_class=type(parser))
    actions.required = True
    for name, func, text in (
            ('approve', _approve, 'pre-create the user of a person'),
            ('link', _link, 'make an existing user the user of a person'),
            ('show', _show, "print a person's user and memberships")):
        sub = actions.add_parser(name, help=text, description=text)
        sub.add_argument('--config-file', action='append', required=True,
                         help='Keystone configuration file (repeatable), '
                              'e.g. /etc/keystone/keystone.conf')
        sub.add_argument('--kind', required=True, choices=['voms', 'oidc'],
                         help='voms (issuer: CA DN) or oidc (issuer: iss)')
        sub.add_argument('--issuer', required=True,
                         help='issuing CA DN (slash form) or token issuer')
        sub.add_argument('--subject', required=True,
                         help='certificate DN (slash form) or token sub')
        if name == 'link':
            sub.add_argument('user_id', help='id of the existing user')
        if name != 'show':
            sub.add_argument('--apply', action='store_true',
                             help='make the change (default: dry run)')
        sub.set_defaults(func=func)


def _setup(args):
    from voms_auth.keystone import manage

    who = manage.person(args.kind, args.issuer, args.subject)
    return manage, manage.load_keystone(args.config_file), who


def _approve(args):
    manage, conf, who = _setup(args)
    _done, message = manage.approve(conf, who, apply=args.apply)
    print(message)
    return cli.EXIT_OK


def _link(args):
    manage, conf, who = _setup(args)
    _done, message = manage.link(conf, who, args.user_id, apply=args.apply)
    print(message)
    return cli.EXIT_OK


def _show(args):
    manage, conf, who = _setup(args)
    cli.print_json(manage.show(conf, who))
    return cli.EXIT_OK
