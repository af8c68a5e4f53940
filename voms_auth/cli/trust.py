"""``voms-auth check-trust``: a read-only linter of the grid-security
directories, loading them as Keystone does.

Contract::

    voms-auth check-trust [--config-file FILE ...] [--ca-path DIR]
                          [--vomsdir DIR] [--ca-warning-days N]
                          [--crl-warning-hours N]

Prints one line per problem, ``error: <sentence>`` (logins that depend on
it are refused now) or ``warning: <sentence>`` (nothing refused yet), then
one summary line ``checked ...: E error(s), W warning(s)``. Exit codes:

* 0 -- no problem;
* 1 -- at least one problem, error or warning;
* 2 -- usage or configuration error (as every ``voms-auth`` command: a
  missing directory, an unreadable configuration file, a bad option).
"""

import datetime
import logging
import os

from voms_auth import cli
from voms_auth.cli import UsageError
from voms_auth.cli.proxy import DEFAULT_CA_PATH, DEFAULT_VOMSDIR


def register(subparsers):
    parser = subparsers.add_parser(
        'check-trust',
        help='check ca_path and vomsdir (CAs, CRLs, namespaces, LSC files) '
             'as Keystone loads them',
        description=__doc__.split('\n\n', 1)[0],
        epilog='exit codes: 0 no problem, 1 problems found (errors or '
               'warnings), 2 usage or configuration error')
    parser.add_argument(
        '--config-file', action='append', default=[], metavar='FILE',
        help='read the [voms_auth] options (ca_path, vomsdir, CRL grace, '
             'namespace_checking, ...) from this file, e.g. '
             '/etc/keystone/keystone.conf (repeatable)')
    parser.add_argument(
        '--ca-path', metavar='DIR',
        help='CA directory (default: ca_path of the configuration, else '
             '$X509_CERT_DIR or %s)' % DEFAULT_CA_PATH)
    parser.add_argument(
        '--vomsdir', metavar='DIR',
        help='VOMS trust directory (default: vomsdir of the configuration, '
             'else $X509_VOMS_DIR or %s)' % DEFAULT_VOMSDIR)
    parser.add_argument(
        '--ca-warning-days', type=_positive, default=30, metavar='N',
        help='warn about CA and VOMS server certificates ending within N '
             'days (default 30)')
    parser.add_argument(
        '--crl-warning-hours', type=_positive, default=12, metavar='N',
        help='warn about CRLs whose nextUpdate is within N hours '
             '(default 12)')
    parser.set_defaults(func=check_trust)


def _positive(text):
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value < 0:
        raise cli.argparse.ArgumentTypeError(
            '%r is not a number of 0 or more' % text)
    return value


def _store(args):
    """The trust store of the configuration (if any), with the directories
    of the command line."""
    from oslo_config import cfg

    from voms_auth import conf as voms_conf

    conf = cfg.ConfigOpts()
    voms_conf.register_opts(conf)
    try:
        conf(args=[], project='voms-auth',
             default_config_files=list(args.config_file))
    except cfg.Error as exc:
        raise UsageError('cannot read %s: %s' % (
            ', '.join(args.config_file), exc)) from None
    section = voms_conf.GROUP
    if not args.config_file:
        conf.set_override('ca_path', os.environ.get('X509_CERT_DIR')
                          or DEFAULT_CA_PATH, group=section)
        conf.set_override('vomsdir', os.environ.get('X509_VOMS_DIR')
                          or DEFAULT_VOMSDIR, group=section)
    if args.ca_path:
        conf.set_override('ca_path', args.ca_path, group=section)
    if args.vomsdir:
        conf.set_override('vomsdir', args.vomsdir, group=section)
    try:
        store = voms_conf.build_trust_store(conf)
    except (cfg.Error, ValueError) as exc:
        raise UsageError('[voms_auth]: %s' % exc) from None
    for option, path in (('ca_path', store.ca_path),
                         ('vomsdir', store.vomsdir)):
        if not os.path.isdir(path):
            raise UsageError('%s %s is not a directory' % (option, path))
    return store


def check_trust(args):
    from voms_auth.voms import trustcheck
    from voms_auth.voms.problems import Problem, severity

    store = _store(args)
    # the problems are printed below, not logged a second time to stderr
    logging.getLogger('voms_auth').addHandler(logging.NullHandler())
    logging.getLogger('voms_auth').propagate = False
    problems = trustcheck.audit(
        store, ca_warning=datetime.timedelta(days=args.ca_warning_days),
        crl_warning=datetime.timedelta(hours=args.crl_warning_hours))
    errors = [p for p in problems if severity(p) == Problem.ERROR]
    warnings = [p for p in problems if severity(p) != Problem.ERROR]
    for label, group in (('error', errors), ('warning', warnings)):
        for problem in group:
            print('%s: %s' % (label, ' '.join(str(problem).split())))
    snap = store.snapshot()
    print('checked %d CAs (%d anchors), %d CRLs in %s and %d VOs in %s '
          '(namespace checking: %s): %d error(s), %d warning(s)' % (
              snap.ca_count, snap.anchor_count,
              sum(len(v) for v in snap.crl_by_issuer.values()),
              store.ca_path, len(snap.vos), store.vomsdir,
              store.namespace_checking, len(errors), len(warnings)))
    # The contract: 1 whenever a problem is found; the label on
    # each line tells errors (logins refused now) from warnings.
    return cli.EXIT_REFUSED if problems else cli.EXIT_OK
