"""Users, projects and role assignments that follow the mapping.

A person is ``(kind, issuer, subject)``. Their Keystone user lives in the
configured user domain under a name derived only from that triple, so the
same person always finds the same user and another CA's user with the same
DN (or another issuer's ``sub``) never does.

Role assignments made by voms-auth are recorded on the user (extra attribute
``voms_auth_assignments``: ``[[project_id, role_id], ...]``). At every login
the mapping's grants are added, and recorded assignments the mapping no
longer grants are removed. Assignments voms-auth did not make -- an admin's,
or one that already existed when the mapping first granted it -- are never
recorded, so never removed.
"""

import hashlib
import logging
import threading
import uuid

from keystone import exception
from keystone.common import provider_api

from voms_auth import errors

LOG = logging.getLogger(__name__)
PROVIDERS = provider_api.ProviderAPIs

#: User extra attributes written by voms-auth.
ASSIGNMENTS_ATTR = 'voms_auth_assignments'
KIND_ATTR = 'voms_auth_kind'
ISSUER_ATTR = 'voms_auth_issuer'
SUBJECT_ATTR = 'voms_auth_subject'

_MAX_NAME = 255


class MappingTargetError(errors.ConfigurationError):
    """The mapping names a domain or role that does not exist in Keystone."""


def user_name(identity):
    """Keystone user name of a person: ``<subject> (<issuer>)``.

    Names longer than Keystone allows keep their start and end with a hash
    of the whole in between, so they stay unique and deterministic.
    """
    name = '%s (%s)' % (identity.subject, identity.issuer)
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(
        ('%s\0%s\0%s' % (identity.kind, identity.issuer, identity.subject)
         ).encode()).hexdigest()[:16]
    keep = (_MAX_NAME - len(digest) - 4) // 2
    return '%s..%s..%s' % (name[:keep], digest, name[-keep:])


_user_locks = {}
_user_locks_guard = threading.Lock()


def _lock_for(name):
    with _user_locks_guard:
        lock = _user_locks.get(name)
        if lock is None:
            lock = _user_locks[name] = threading.Lock()
        return lock


class Provisioner:
    """Creates users and keeps their role assignments in step with grants.

    :param user_domain: name of the domain users are created in.
    """

    def __init__(self, user_domain):
        self.user_domain = user_domain

    def _domain_id(self, name):
        try:
            return PROVIDERS.resource_api.get_domain_by_name(name)['id']
        except exception.DomainNotFound:
            raise MappingTargetError(
                'domain %r does not exist in Keystone' % name) from None

    def ensure_user(self, identity):
        """The Keystone user of ``identity``, created on first login."""
        domain_id = self._domain_id(self.user_domain)
        name = user_name(identity)
        try:
            return PROVIDERS.identity_api.get_user_by_name(name, domain_id)
        except exception.UserNotFound:
            pass
        ref = {
            'name': name,
            'domain_id': domain_id,
            'enabled': True,
            'description': '%s, %s user managed by voms-auth'
                           % (identity.name or identity.subject,
                              identity.kind.upper()),
            KIND_ATTR: identity.kind,
            ISSUER_ATTR: identity.issuer,
            SUBJECT_ATTR: identity.subject,
            ASSIGNMENTS_ATTR: [],
        }
        email = identity.attributes.get('email')
        if isinstance(email, str) and email:
            ref['email'] = email
        try:
            user = PROVIDERS.identity_api.create_user(ref)
            LOG.info('created user %s (%s) in domain %s',
                     user['id'], name, self.user_domain)
            return user
        except exception.Conflict:
            # Another request created the same person meanwhile.
            return PROVIDERS.identity_api.get_user_by_name(name, domain_id)

    def _project_id(self, grant, domain_ids):
        domain_id = domain_ids.get(grant.domain)
        if domain_id is None:
            domain_id = domain_ids[grant.domain] = self._domain_id(
                grant.domain)
        try:
            return PROVIDERS.resource_api.get_project_by_name(
                grant.project, domain_id)['id']
        except exception.ProjectNotFound:
            if not grant.create:
                LOG.warning('mapped project %s in domain %s does not exist '
                            'and the mapping does not create it; skipped',
                            grant.project, grant.domain)
                return None
        project_id = uuid.uuid4().hex
        try:
            PROVIDERS.resource_api.create_project(project_id, {
                'id': project_id, 'name': grant.project,
                'domain_id': domain_id, 'parent_id': domain_id,
                'enabled': True, 'is_domain': False,
                'description': 'created by voms-auth from the mapping',
            })
            LOG.info('created project %s (%s) in domain %s', project_id,
                     grant.project, grant.domain)
            return project_id
        except exception.Conflict:
            return PROVIDERS.resource_api.get_project_by_name(
                grant.project, domain_id)['id']

    @staticmethod
    def _role_id(name, role_ids):
        if name not in role_ids:
            try:
                role_ids[name] = PROVIDERS.role_api.get_unique_role_by_name(
                    name)['id']
            except exception.RoleNotFound:
                raise MappingTargetError(
                    'role %r named by the mapping does not exist in '
                    'Keystone' % name) from None
        return role_ids[name]

    def desired_assignments(self, grants):
        """``{(project_id, role_id)}`` the grants amount to.

        :raises MappingTargetError: a domain or role is missing.
        """
        domain_ids, role_ids, desired = {}, {}, set()
        for grant in grants:
            project_id = self._project_id(grant, domain_ids)
            for role in grant.roles:
                role_id = self._role_id(role, role_ids)
                if project_id is not None:
                    desired.add((project_id, role_id))
        return desired

    def sync(self, identity, grants):
        """Ensure the user exists and holds exactly the mapped assignments.

        :returns: the user reference.
        """
        with _lock_for(user_name(identity)):
            user = self.ensure_user(identity)
            desired = self.desired_assignments(grants)
            self._sync_assignments(user, desired)
            return user

    def _sync_assignments(self, user, desired):
        user_id = user['id']
        existing = {
            (a['project_id'], a['role_id'])
            for a in PROVIDERS.assignment_api.list_role_assignments(
                user_id=user_id, effective=False)
            if a.get('project_id') and a.get('user_id') == user_id
            and not a.get('inherited_to_projects')
        }
        recorded = {tuple(x) for x in user.get(ASSIGNMENTS_ATTR) or []}
        to_add = desired - existing
        to_remove = (recorded - desired) & existing
        for project_id, role_id in sorted(to_add):
            try:
                PROVIDERS.assignment_api.create_grant(
                    role_id, user_id=user_id, project_id=project_id)
            except exception.Conflict:
                pass
        for project_id, role_id in sorted(to_remove):
            try:
                PROVIDERS.assignment_api.delete_grant(
                    role_id, user_id=user_id, project_id=project_id)
            except (exception.RoleAssignmentNotFound, exception.NotFound):
                pass
        managed = (recorded & desired) | to_add
        if managed != recorded:
            PROVIDERS.identity_api.update_user(
                user_id, {ASSIGNMENTS_ATTR: sorted(list(x) for x in managed)})
        if to_add or to_remove:
            LOG.info('user %s: granted %d and removed %d role assignments '
                     'following the mapping', user_id, len(to_add),
                     len(to_remove))
