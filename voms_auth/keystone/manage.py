"""Admin actions on grid users, run against Keystone's database.

``voms-auth keystone approve|link|show`` (see :mod:`voms_auth.cli.keystone`)
load Keystone's configuration and backends like ``keystone-manage`` and use
the same records a login uses (:mod:`.provisioning`). Changes happen only
with ``apply=True``; otherwise the plan is returned.
"""

import collections

from voms_auth import conf as voms_conf
from voms_auth import errors, identity

#: A person as an admin names them (no credential at hand).
Person = collections.namedtuple('Person', 'kind issuer subject')


class UserActionRefused(errors.CredentialError):
    """An admin action cannot be done as asked (CLI exit 1)."""


def person(kind, issuer, subject):
    """A :data:`Person` from command-line values.

    :raises UserActionRefused: unknown kind or empty issuer/subject.
    """
    if kind not in identity.KINDS:
        raise UserActionRefused('kind must be one of %s, not %r'
                                % (', '.join(identity.KINDS), kind))
    if not issuer.strip() or not subject.strip():
        raise UserActionRefused('issuer and subject must not be empty')
    return Person(kind, issuer, subject)


def load_keystone(config_files):
    """Configure Keystone from ``config_files`` and load its backends."""
    import keystone.conf
    from keystone.common import sql
    from keystone.server import backends

    conf = keystone.conf.CONF
    keystone.conf.configure()
    sql.initialize()
    try:
        conf(args=[], project='keystone',
             default_config_files=list(config_files))
    except Exception as exc:  # noqa: BLE001 - oslo.config's many errors
        raise errors.ConfigurationError(
            'cannot read the Keystone configuration %s: %s'
            % (', '.join(config_files), exc)) from None
    voms_conf.register_opts(conf)
    backends.load_backends()
    return conf


def _provisioner(conf):
    from voms_auth.keystone import provisioning

    opts = conf.voms_auth
    return provisioning.Provisioner(opts.user_domain, opts.identity_provider,
                                    opts.authorization_ttl)


def show(conf, who):
    """``{'user': ref or None, 'memberships': [...]}`` of a person."""
    from voms_auth.keystone import provisioning

    provisioner = _provisioner(conf)
    user = provisioner.find_user(who)
    return {'person': who._asdict(),
            'unique_id': provisioning.person_key(who),
            'user': user and {'id': user['id'], 'name': user['name'],
                              'enabled': user['enabled']},
            'memberships': (provisioner.memberships(user['id'])
                            if user else [])}


def approve(conf, who, apply=False):
    """Pre-create the user of ``who`` (no roles until a login maps some).

    :returns: ``(done, message)``.
    """
    from voms_auth.keystone import provisioning

    provisioner = _provisioner(conf)
    user = provisioner.find_user(who)
    if user is not None:
        return False, 'already approved: user %s' % user['id']
    if not apply:
        return False, ('would create user "%s" in domain %s (run again '
                       'with --apply)' % (provisioning.display_name(who),
                                          provisioner.user_domain))
    domain = provisioner.domain()
    provisioner.ensure_identity_provider(domain['id'])
    user = provisioner.create_user(who, domain['id'])
    return True, 'created user %s' % user['id']


def link(conf, who, user_id, apply=False):
    """Make an existing user (e.g. a keystone-voms user named by DN) the
    user of ``who``.

    :returns: ``(done, message)``.
    :raises UserActionRefused: no such user, or the person already has
        another user.
    """
    from keystone import exception
    from keystone.common import provider_api

    from voms_auth.keystone import provisioning

    apis = provider_api.ProviderAPIs
    provisioner = _provisioner(conf)
    try:
        target = apis.identity_api.get_user(user_id)
    except exception.UserNotFound:
        raise UserActionRefused('no user with id %s' % user_id) from None
    current = provisioner.find_user(who)
    if current is not None:
        if current['id'] == user_id:
            return False, 'already linked: user %s' % user_id
        raise UserActionRefused(
            '%s already has user %s; unlink or delete it first'
            % (who.subject, current['id']))
    plan = 'link user %s (%s) to %s' % (user_id, target['name'],
                                        provisioning.display_name(who))
    if not apply:
        return False, 'would %s (run again with --apply)' % plan
    domain = provisioner.domain()
    provisioner.ensure_identity_provider(domain['id'])
    provisioner.link_user(who, user_id)
    return True, plan[0].upper() + plan[1:]
