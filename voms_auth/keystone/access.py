"""What a verified person may have in Keystone, decided at each login.

:func:`grant` is the policy between a verified
:class:`~voms_auth.identity.Identity` and a Keystone user: it refuses
credentials already past their end, disabled users and domains, people a
deny rule names or the approval mode does not admit, and mappings that
would hand out cloud admin; it removes everything voms-auth gave a person
whom no rule grants any more; otherwise it creates the user if needed and
makes their memberships follow the mapping. Refusals are
:class:`~voms_auth.errors.CredentialError` (401 with the reason) or
:class:`~voms_auth.errors.ConfigurationError` (401 that points to the log).
"""

import datetime
import logging

from keystone import exception
from keystone.common import provider_api

from voms_auth import errors
from voms_auth.keystone import provisioning

LOG = logging.getLogger(__name__)
PROVIDERS = provider_api.ProviderAPIs

#: A credential must stay valid at least this long for a token to be worth
#: issuing (tokens are capped at the credential's end, in whole seconds).
MIN_REMAINING = datetime.timedelta(seconds=2)

#: The mapping object last found free of roles implying admin.
_last_checked = [None]


def describe(identity):
    """``subject (memberships: ...)`` for refusal messages."""
    if not identity.memberships:
        return '%s (no VO memberships)' % identity.subject
    shown = ', '.join(m.source or m.group for m in identity.memberships[:5])
    more = len(identity.memberships) - 5
    return '%s (memberships: %s%s)' % (
        identity.subject, shown, ', ...' if more > 0 else '')


def check_not_expired(identity, now=None):
    """Refuse a credential whose end has come (skew and leeway accept a
    credential slightly out of its window; they never extend its end).

    :raises CredentialError: with the instant it ended.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if identity.expires_at - now < MIN_REMAINING:
        raise errors.CredentialError(
            'the credential of %s ended at %s; get a new one'
            % (identity.subject,
               identity.expires_at.strftime('%Y-%m-%dT%H:%M:%SZ')))


def check_no_implied_admin(mapping):
    """Refuse a mapping whose roles imply ``admin`` without the rule
    allowing it (``allow_cloud_admin``). Checked once per loaded mapping.

    :raises MappingTargetError: naming the role and the rules.
    """
    if _last_checked[0] is mapping:
        return
    for role, rules in mapping.granted_roles().items():
        if rules and _implies_admin(role):
            raise provisioning.MappingTargetError(
                'the mapping grants role %r (%s), which implies admin: '
                'a project-scoped admin is admin of the whole cloud. Use '
                'another role, or set "allow_cloud_admin": true on those '
                'rules' % (role, ', '.join(rules)))
    _last_checked[0] = mapping


def _implies_admin(role_name):
    try:
        role = PROVIDERS.role_api.get_unique_role_by_name(role_name)
    except exception.RoleNotFound:
        return False  # reported as a missing role when granted
    seen, todo = set(), [role['id']]
    while todo:
        role_id = todo.pop()
        if role_id in seen:
            continue
        seen.add(role_id)
        if PROVIDERS.role_api.get_role(role_id)['name'].lower() == 'admin':
            return True
        todo.extend(ref['implied_role_id'] for ref in
                    PROVIDERS.role_api.list_implied_roles(role_id))
    return False


def grant(identity, mapping, provisioner, require_approval=False,
          scope=None):
    """Create or find the user of ``identity`` and make their access follow
    ``mapping``; ``(user reference, ids of the projects mapped, the
    project of ``scope`` or None)``.

    Everything a login decides on is read first, in one read transaction
    (the requested project, user domain, identity provider, user, mapped
    domains, projects and roles, the state of the memberships). A repeat
    login whose memberships already follow the mapping ends there, having
    written nothing; otherwise the changes are written in one transaction.

    :param scope: the project the request scopes to, as in the request
        body (``{'id': ...}`` or ``{'name': ..., 'domain': ...}``).
    :raises CredentialError: refused; when the mapping grants nothing (or a
        deny rule matches), everything voms-auth gave the person was
        removed first.
    :raises ConfigurationError: the mapping names what Keystone lacks.
    """
    check_not_expired(identity)
    check_no_implied_admin(mapping)
    result = mapping.evaluate(identity)
    plan = None
    with provisioner.reading():
        project = provisioning.scope_project(scope) if scope else None
        check_project_enabled(project)  # before anything is granted
        domain_id, user, idp_ready = provisioner.person(identity)
        if user is not None and not user['enabled']:
            raise provisioning.AccessRefused(
                'user %s (%s) is disabled in Keystone'
                % (user['id'], identity.subject))
        refusal = _refusal(identity, result)
        if refusal is None:
            if user is None:
                _check_approval(identity, result, require_approval)
            plan = provisioner.plan(result.grants, domain_id)
            if (user is not None and idp_ready
                    and provisioner.in_step(user['id'], plan)):
                # A repeat login that changes nothing writes nothing.
                return user, plan.project_ids, project
    if refusal is not None:
        if user is not None:
            provisioner.remove_all(user['id'])
        raise errors.CredentialError(refusal)
    if not idp_ready or user is None:
        # Its protocols must exist before a federated user refers to them.
        provisioner.ensure_identity_provider(domain_id)
    if user is None:
        user = provisioner.create_user(identity, domain_id)
    provisioner.apply(user['id'], plan)
    if project is None and scope:
        project = provisioning.scope_project(scope)  # created by the mapping
    return user, plan.project_ids, project


def check_project_enabled(project):
    """Refuse a scope on a disabled project (or one in a disabled domain)
    with the reason; Keystone's own refusal does not say it.

    :raises CredentialError: naming the project or its domain.
    """
    if project is None:
        return
    if not project['enabled']:
        raise errors.CredentialError('project %s is disabled'
                                     % project['name'])
    if not project['domain_enabled']:
        raise errors.CredentialError('domain %s of project %s is disabled'
                                     % (project['domain_name'],
                                        project['name']))


def _refusal(identity, result):
    """Why ``result`` gives ``identity`` nothing, or ``None``."""
    denied = getattr(result, 'denied_by', None)
    if denied is not None:
        return '%s is denied access by the mapping (%s%s)' % (
            identity.subject, denied.name,
            ': %s' % denied.description if denied.description else '')
    if not result.grants:
        return 'no rule of the mapping grants access to %s' % describe(
            identity)
    return None


def _check_approval(identity, result, require_approval):
    """A new person needs approval when the site or the mapping asks for
    it: listed in the mapping, or pre-created by an admin (then they have
    a user already and this is not called)."""
    approval = getattr(result, 'approval', None)
    if approval == 'listed':
        return
    if approval == 'not-listed' or require_approval:
        raise provisioning.AccessRefused(
            '%s is not approved for this cloud: an admin must approve them '
            '(voms-auth keystone approve) or list them in the mapping'
            % identity.subject)
