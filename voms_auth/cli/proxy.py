"""``voms-auth verify-proxy``: verify a VOMS proxy file.

Contract (other tools depend on it)::

    voms-auth verify-proxy [--ca-path DIR] [--vomsdir DIR] [--at TIME]
                           [--pusp-robots FILE] FILE

* valid: exit 0, one JSON object on stdout (``user``, ``user_ca``, ``vo``,
  ``fqans``, ``server``, ``uri``, ``not_before``, ``not_after``,
  ``expires_at``, ... of the first valid AC; ``vos``: every valid AC;
  ``subject``: the person (the PUSP DN for a listed robot's per-user
  sub-proxy, else ``user``); ``robot``: true for a robot certificate;
  ``pusp``: ``null`` or ``{"subject", "robot", "user"}``);
* refused (including unparseable input): exit 1, ``error: <reason>``;
* usage or configuration error: exit 2, ``error: <reason>``.
"""

import os

from voms_auth import identity
from voms_auth.cli import UsageError, print_json, read_input
from voms_auth.voms import TrustStore, Verifier

DEFAULT_CA_PATH = '/etc/grid-security/certificates'
DEFAULT_VOMSDIR = '/etc/grid-security/vomsdir'


def register(subparsers):
    parser = subparsers.add_parser(
        'verify-proxy',
        help='verify a VOMS proxy file and print what it proves',
        description='Verify a VOMS proxy (RFC 3820 chain, CRLs, VOMS '
                    'attribute certificate) and print the user, VO and '
                    'FQANs as JSON.')
    parser.add_argument(
        '--ca-path', metavar='DIR',
        default=os.environ.get('X509_CERT_DIR') or DEFAULT_CA_PATH,
        help='trusted CA directory (<hash>.0, <hash>.r0); default '
             '$X509_CERT_DIR or %s' % DEFAULT_CA_PATH)
    parser.add_argument(
        '--vomsdir', metavar='DIR',
        default=os.environ.get('X509_VOMS_DIR') or DEFAULT_VOMSDIR,
        help='VOMS trust directory (<vo>/<host>.lsc); default '
             '$X509_VOMS_DIR or %s' % DEFAULT_VOMSDIR)
    parser.add_argument(
        '--at', metavar='TIMESTAMP',
        help='verify as of this RFC 3339 instant (e.g. '
             '2017-01-01T00:00:00Z), for archived proxies')
    parser.add_argument(
        '--service-host', metavar='HOST',
        help='host name matched against AC targets')
    parser.add_argument(
        '--allow-expired-crl', action='store_true',
        help='accept certificates whose CA CRL has expired')
    add_pusp_option(parser)
    parser.add_argument('file', metavar='FILE',
                        help='proxy file (cert, key, chain), "-" for stdin')
    parser.set_defaults(func=verify_proxy)


def add_pusp_option(parser):
    """``--pusp-robots FILE`` (as ``[voms_auth] pusp_robots_file``)."""
    parser.add_argument(
        '--pusp-robots', metavar='FILE',
        help='robots whose per-user sub-proxies are distinct people '
             '(the format of [voms_auth] pusp_robots_file)')


def load_pusp(args):
    """The :class:`~voms_auth.voms.robots.PuspRobots` of
    ``--pusp-robots``, or ``None``.

    :raises UsageError: the file cannot be read or is malformed.
    """
    if not args.pusp_robots:
        return None
    from voms_auth.voms import robots
    try:
        return robots.PuspRobots.load(args.pusp_robots)
    except robots.RobotListError as exc:
        raise UsageError('--pusp-robots: %s' % exc) from None


def verify_proxy(args):
    at = None
    if args.at:
        try:
            at = identity.parse_time(args.at)
        except ValueError as exc:
            raise UsageError('--at: %s is not an RFC 3339 timestamp (%s)'
                             % (args.at, exc)) from None
    for option, path in (('--ca-path', args.ca_path),
                         ('--vomsdir', args.vomsdir)):
        if not os.path.isdir(path):
            raise UsageError('%s %s is not a directory' % (option, path))
    data = read_input(args.file, 'rb')
    store = TrustStore(args.ca_path, args.vomsdir,
                       allow_expired_crl=args.allow_expired_crl)
    verifier = Verifier(store, service_host=args.service_host,
                        cache_size=0, pusp_robots=load_pusp(args))
    credential = verifier.verify_pem(data, at=at)
    print_json(credential.as_dict())
    return 0
