"""Keystone users and the access the mapping grants them.

Who a person is
    A person is ``(kind, issuer, subject)``. Their Keystone user is a
    *federated* (shadow) user of the identity provider ``[voms_auth]
    identity_provider`` (``voms-auth`` by default), found through Keystone's
    own ``federated_user`` record ``(idp, protocol = kind, unique_id)``.
    ``unique_id`` is a SHA-256 of the triple in lower-case hex, so MariaDB's
    case- and accent-insensitive collation cannot make two people one
    (``José`` = ``jose`` there). The user name is for display only and has no
    unique constraint, so nobody can squat it; a user voms-auth did not
    create is found only after an admin links it (``voms-auth keystone
    link``).

What a person holds
    Roles come through groups that voms-auth manages: one group per
    (project, role) in the user domain, with a deterministic id and the role
    granted to it on the project. A person is put in a group through
    Keystone's *expiring* group membership (``expiring_user_group_membership``,
    the table Keystone's own federation uses): one row per (user, group),
    idempotent, written in one transaction, and ignored by Keystone once
    ``authorization_ttl`` of the identity provider has passed since the last
    login that confirmed it. Access therefore ends without any login; a login
    that no rule grants removes every such membership at once. Assignments
    and group memberships made by admins are never touched.
"""

import datetime
import hashlib
import logging
import time

from keystone import exception, notifications
from keystone.assignment import core as assignment_core
from keystone.common import provider_api, sql
from keystone.identity.backends import sql_model
from keystone.models import revoke_model
from keystone.resource.backends import sql_model as resource_model
from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exception
from oslo_utils import timeutils
from sqlalchemy import exc as sqlalchemy_exc

from voms_auth import errors
from voms_auth.identity import KINDS

LOG = logging.getLogger(__name__)
PROVIDERS = provider_api.ProviderAPIs

#: Id of the Keystone mapping the protocols of the identity provider name.
MAPPING_ID = 'voms-auth'
#: Its rules: voms-auth maps through its own mapping file; this one only
#: satisfies Keystone's schema and matches no assertion.
_UNUSED_RULES = [{'local': [{'user': {'name': '{0}'}}],
                  'remote': [{'type': 'VOMS_AUTH_NO_SUCH_ATTRIBUTE'}]}]

#: Prefix of the names of the groups voms-auth manages.
GROUP_PREFIX = 'voms-auth:'
_MAX_DISPLAY = 255


class MappingTargetError(errors.ConfigurationError):
    """The mapping names a domain or role that does not exist in Keystone,
    or grants a role that implies ``admin``."""


class AccessRefused(errors.CredentialError):
    """The person is known but may not log in (disabled, not approved)."""


def person_key(identity):
    """The collation-proof ``unique_id`` of a person: lower-case hex."""
    digest = hashlib.sha256()
    for part in (identity.kind, identity.issuer, identity.subject):
        digest.update(part.encode('utf-8'))
        digest.update(b'\0')
    return digest.hexdigest()


def display_name(identity):
    """``<subject> (<issuer>)``, shortened to Keystone's 255 characters.

    Display only: it takes no part in finding the user.
    """
    name = '%s (%s)' % (identity.subject, identity.issuer)
    if len(name) <= _MAX_DISPLAY:
        return name
    return name[:_MAX_DISPLAY - 3] + '...'


def group_id(idp_id, project_id, role_id):
    """Deterministic id of the managed group for (project, role)."""
    text = '\0'.join(('voms-auth-group', idp_id, project_id, role_id))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


#: What a concurrent creation of the same row looks like: a duplicate key,
#: Keystone's Conflict, or (MariaDB, InnoDB gap locks) a deadlock.
_RACE_ERRORS = (db_exception.DBDuplicateEntry, db_exception.DBDeadlock,
                exception.Conflict)


def create_once(create, fetch, attempts=10):
    """``create()``, or what ``fetch()`` finds when a concurrent request
    (process, node) created the same thing first.

    ``fetch`` returns ``None`` while the row is not visible yet; the
    creation is then tried again, a few times, with a short pause.
    """
    for attempt in range(attempts):
        try:
            return create()
        except Exception as exc:  # noqa: BLE001 - re-raised unless a race
            if not (isinstance(exc, _RACE_ERRORS) or _locked(exc)):
                raise
            found = fetch()
            if found is not None:
                return found
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None


def _existing_projects(targets):
    """``{(domain_id, name): project_id}`` for the projects of
    ``targets`` (``(grant, domain_id)`` pairs), in one query.

    Written here rather than calling Keystone's ``get_project_by_name``
    per grant: with 100 mapped projects those lookups were 74 % of a
    repeat login (2000 calls, 25.7 s of 34.9 s CPU in a profile of 20
    logins). Names are matched exactly here; the rest go through
    Keystone's own lookup.
    """
    names = {grant.project for grant, _ in targets}
    domains = {domain_id for _, domain_id in targets}
    if not names:
        return {}
    model = resource_model.Project
    with sql.session_for_read() as session:
        rows = session.query(model.id, model.name, model.domain_id).filter(
            model.name.in_(names), model.domain_id.in_(domains),
            model.is_domain.is_(False))
        return {(domain_id, name): project_id
                for project_id, name, domain_id in rows}


def _locked(exc):
    """SQLite's answer to concurrent writers (the embedded default under
    a multi-process server): worth trying again."""
    return (isinstance(exc, (db_exception.DBError,
                             sqlalchemy_exc.OperationalError))
            and 'database is locked' in str(exc))


def _retriable(exc):
    """Whether a failed membership transaction is worth running again."""
    return isinstance(exc, db_exception.DBDuplicateEntry) or _locked(exc)


class Provisioner:
    """Finds and creates users; keeps their group memberships in step.

    :param user_domain: name of the domain users and groups live in.
    :param idp_id: id of the Keystone identity provider of grid users.
    :param authorization_ttl: minutes a membership lasts after the last
        login that confirmed it.
    """

    def __init__(self, user_domain, idp_id, authorization_ttl):
        self.user_domain = user_domain
        self.idp_id = idp_id
        self.ttl = datetime.timedelta(minutes=authorization_ttl)
        self._ready_groups = set()
        self._idp_checked = False

    # -- domains, the identity provider -----------------------------------
    def domain(self):
        """The user domain reference; refused when disabled.

        :raises MappingTargetError: the domain does not exist.
        :raises AccessRefused: the domain is disabled.
        """
        try:
            ref = PROVIDERS.resource_api.get_domain_by_name(self.user_domain)
        except exception.DomainNotFound:
            raise MappingTargetError(
                'user domain %r ([voms_auth] user_domain) does not exist in '
                'Keystone' % self.user_domain) from None
        if not ref.get('enabled', True):
            raise AccessRefused('domain %s of grid users is disabled'
                                % self.user_domain)
        return ref

    def ensure_identity_provider(self, domain_id):
        """Create the identity provider with protocols ``voms`` and
        ``oidc`` (Keystone's ``federated_user`` rows refer to them), or
        align its ``authorization_ttl`` (once per process); refuse while an
        admin has disabled it (every login).

        :raises AccessRefused: the identity provider is disabled.
        """
        idp = self._get_identity_provider() if self._idp_checked else None
        if idp is None:
            idp = self._set_up_identity_provider(domain_id)
        if not idp.get('enabled', True):
            raise AccessRefused('identity provider %s of grid users is '
                                'disabled in Keystone' % self.idp_id)

    def _set_up_identity_provider(self, domain_id):
        """Create the identity provider and its protocols if missing and
        align its ``authorization_ttl``; the identity provider."""
        minutes = int(self.ttl.total_seconds() // 60)
        idp = create_once(
            lambda: self._create_identity_provider(domain_id, minutes),
            self._get_identity_provider)
        self._ensure_protocols()
        if idp.get('authorization_ttl') != minutes:
            PROVIDERS.federation_api.update_idp(
                self.idp_id, {'authorization_ttl': minutes})
            LOG.warning('identity provider %s: authorization_ttl set to %d '
                        'minutes ([voms_auth] authorization_ttl)',
                        self.idp_id, minutes)
        self._idp_checked = True
        return idp

    def _get_identity_provider(self):
        try:
            return PROVIDERS.federation_api.get_idp(self.idp_id)
        except exception.IdentityProviderNotFound:
            return None

    def _create_identity_provider(self, domain_id, minutes):
        idp = self._get_identity_provider()
        if idp is not None:
            return idp
        idp = PROVIDERS.federation_api.create_idp(self.idp_id, {
            'id': self.idp_id, 'domain_id': domain_id, 'enabled': True,
            'authorization_ttl': minutes, 'remote_ids': [],
            'description': 'Grid users of voms-auth (VOMS proxies and '
                           'OIDC tokens); managed by voms-auth',
        })
        LOG.info('created identity provider %s for grid users', self.idp_id)
        return idp

    def _ensure_protocols(self):
        """Protocols ``voms`` and ``oidc`` of the identity provider, with a
        Keystone mapping that maps nothing: these protocols route
        ``/v3/OS-FEDERATION/identity_providers/<idp>/protocols/<kind>/auth``
        to voms-auth's own methods, never to Keystone's mapping engine."""
        api = PROVIDERS.federation_api
        create_once(lambda: self._get_mapping() or api.create_mapping(
            MAPPING_ID, {'id': MAPPING_ID, 'rules': _UNUSED_RULES}),
            self._get_mapping)
        for kind in KINDS:  # one Keystone protocol per credential kind
            create_once(
                lambda kind=kind: self._get_protocol(kind) or
                api.create_protocol(self.idp_id, kind, {
                    'id': kind, 'idp_id': self.idp_id,
                    'mapping_id': MAPPING_ID}),
                lambda kind=kind: self._get_protocol(kind))

    @staticmethod
    def _get_mapping():
        try:
            return PROVIDERS.federation_api.get_mapping(MAPPING_ID)
        except exception.MappingNotFound:
            return None

    def _get_protocol(self, kind):
        try:
            return PROVIDERS.federation_api.get_protocol(self.idp_id, kind)
        except exception.FederatedProtocolNotFound:
            return None

    # -- users ---------------------------------------------------------------
    def find_user(self, identity):
        """The user of ``identity``, or ``None`` before their first login."""
        try:
            return PROVIDERS.shadow_users_api.get_federated_user(
                self.idp_id, identity.kind, person_key(identity))
        except exception.UserNotFound:
            return None

    def create_user(self, identity, domain_id):
        """Create the user of ``identity`` (a concurrent creation wins)."""
        federated = {'idp_id': self.idp_id, 'protocol_id': identity.kind,
                     'unique_id': person_key(identity),
                     'display_name': display_name(identity)}
        email = getattr(identity, 'attributes', {}).get('email')
        email = email if isinstance(email, str) and email else None

        def create():
            user = PROVIDERS.shadow_users_api.create_federated_user(
                domain_id, federated, email=email)
            LOG.info('created user %s for %s', user['id'],
                     errors.printable(federated['display_name']))
            return user

        # The user id is derived from unique_id: a concurrent first login
        # of the same person collides on it, and the loser reads the
        # winner's user.
        return create_once(create, lambda: self.find_user(identity))

    def link_user(self, identity, user_id):
        """Record ``user_id`` (an existing user) as the user of
        ``identity`` (an admin's explicit action)."""
        PROVIDERS.shadow_users_api.create_federated_object({
            'idp_id': self.idp_id, 'protocol_id': identity.kind,
            'unique_id': person_key(identity), 'user_id': user_id,
            'display_name': display_name(identity)})

    def memberships(self, user_id):
        """The user's voms-auth memberships: ``[{group, description,
        expires_at, expired}]`` (expired ones included, marked)."""
        model = sql_model.ExpiringUserGroupMembership
        with sql.session_for_read() as session:
            rows = [(r.group_id, r.expires, r.expired) for r in
                    session.query(model).filter_by(user_id=user_id,
                                                   idp_id=self.idp_id)]
        result = []
        for gid, expires, expired in rows:
            group = PROVIDERS.identity_api.get_group(gid)
            result.append({'group': gid, 'description': group.get(
                'description', ''), 'expires_at': expires.isoformat() + 'Z',
                'expired': bool(expired)})
        return result

    # -- what the mapping grants -----------------------------------------
    def desired_groups(self, grants, domain_id):
        """``{group_id: (project_id, role_id)}`` the grants amount to.

        Projects are created where the mapping says so; a missing project
        the mapping does not create is skipped.

        :raises MappingTargetError: a domain or role is missing.
        """
        domain_ids, role_ids, desired = {}, {}, {}
        targets = [(grant, self._domain_id(grant.domain, domain_ids))
                   for grant in grants]
        found = _existing_projects(targets)
        for grant, grant_domain in targets:
            project_id = found.get((grant_domain, grant.project))
            if project_id is None:
                project_id = self._project_id(grant, grant_domain)
            for role in grant.roles:
                role_id = self._role_id(role, role_ids)
                if project_id is not None:
                    gid = group_id(self.idp_id, project_id, role_id)
                    desired[gid] = (project_id, role_id)
        return desired

    @staticmethod
    def _domain_id(name, cache):
        if name not in cache:
            try:
                ref = PROVIDERS.resource_api.get_domain_by_name(name)
            except exception.DomainNotFound:
                raise MappingTargetError(
                    'domain %r named by the mapping does not exist in '
                    'Keystone' % name) from None
            cache[name] = ref['id']
        return cache[name]

    def _project_id(self, grant, domain_id):
        """One project the batch lookup did not find by its exact name:
        Keystone's own lookup (the database's collation decides), then
        creation where the mapping says so."""
        try:
            return PROVIDERS.resource_api.get_project_by_name(
                grant.project, domain_id)['id']
        except exception.ProjectNotFound:
            if not grant.create:
                LOG.warning('mapped project %s in domain %s does not exist '
                            'and the mapping does not create it; skipped',
                            grant.project, grant.domain)
                return None
        return self._create_project(grant, domain_id)

    @staticmethod
    def _create_project(grant, domain_id):
        project_id = hashlib.sha256(('\0'.join(
            ('voms-auth-project', domain_id, grant.project))).encode()
        ).hexdigest()[:32]

        def create():
            PROVIDERS.resource_api.create_project(project_id, {
                'id': project_id, 'name': grant.project,
                'domain_id': domain_id, 'parent_id': domain_id,
                'enabled': True, 'is_domain': False,
                'description': 'created by voms-auth from the mapping',
            })
            LOG.info('created project %s (%s) in domain %s', project_id,
                     errors.printable(grant.project),
                     errors.printable(grant.domain))
            return project_id

        def fetch():
            try:
                return PROVIDERS.resource_api.get_project_by_name(
                    grant.project, domain_id)['id']
            except exception.ProjectNotFound:
                return None

        return create_once(create, fetch)

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

    # -- managed groups ------------------------------------------------------
    def ensure_groups(self, desired, domain_id):
        """Make sure each desired group exists and holds its role.

        Checked once per group and process: group ids are deterministic and
        creating a group or a grant twice is harmless.
        """
        for gid, (project_id, role_id) in desired.items():
            if gid in self._ready_groups:
                continue
            self._create_group(gid, project_id, role_id, domain_id)
            create_once(lambda gid=gid, p=project_id, r=role_id:
                        PROVIDERS.assignment_api.create_grant(
                            r, group_id=gid, project_id=p) or True,
                        lambda: None)
            self._ready_groups.add(gid)

    def _create_group(self, gid, project_id, role_id, domain_id):
        try:
            PROVIDERS.identity_api.get_group(gid)
            return
        except exception.GroupNotFound:
            pass
        project = PROVIDERS.resource_api.get_project(project_id)
        role = PROVIDERS.role_api.get_role(role_id)
        ref = {'id': gid, 'domain_id': domain_id,
               'name': GROUP_PREFIX + gid,
               'description': 'role %s on project %s: grid users the '
                              'voms-auth mapping grants it; managed by '
                              'voms-auth' % (role['name'], project['name'])}

        def create():
            PROVIDERS.identity_api.driver.create_group(gid, ref)
            LOG.info('created group %s (role %s on project %s)', gid,
                     role['name'], project['name'])
            return gid

        def fetch():
            try:
                return PROVIDERS.identity_api.get_group(gid)['id']
            except exception.GroupNotFound:
                return None

        create_once(create, fetch)

    def sync_memberships(self, user_id, desired):
        """Hold exactly the memberships in ``desired`` (group ids).

        :returns: ``(added, removed)`` group id sets.
        """
        try:
            added, removed, revived = self._sync_rows(user_id, set(desired))
        except db_exception.DBReferenceError:
            # A group was deleted by an admin after this process checked it.
            self._ready_groups.difference_update(desired)
            raise
        if added or removed or revived:
            assignment_core.COMPUTED_ASSIGNMENTS_REGION.invalidate()
        if removed:
            # Tokens issued before now carry roles that are gone.
            revoke_tokens_issued_before_now(user_id)
        if added or removed:
            LOG.info('user %s: added to %d and removed from %d voms-auth '
                     'groups following the mapping', user_id, len(added),
                     len(removed))
        return added, removed

    @oslo_db_api.wrap_db_retry(
        max_retries=10, retry_on_deadlock=True, retry_interval=0.05,
        inc_retry_interval=True, max_retry_interval=1,
        exception_checker=_retriable)
    def _sync_rows(self, user_id, desired):
        """One transaction; retried when a concurrent login inserted the
        same row, or the database reports a deadlock (MariaDB) or a lock
        (SQLite, whose writers exclude each other)."""
        now = timeutils.utcnow()
        refresh_before = now - self.ttl / 24
        model = sql_model.ExpiringUserGroupMembership
        with sql.session_for_write() as session:
            query = session.query(model).filter_by(
                user_id=user_id, idp_id=self.idp_id)
            current = {row.group_id: row.last_verified for row in query}
            removed = set(current) - desired
            if removed:
                query.filter(model.group_id.in_(removed)).delete(
                    synchronize_session=False)
            stale = {g for g in desired & set(current)
                     if current[g] < refresh_before}
            if stale:
                query.filter(model.group_id.in_(stale)).update(
                    {'last_verified': now}, synchronize_session=False)
            added = desired - set(current)
            for gid in sorted(added):
                session.add(model(user_id=user_id, group_id=gid,
                                  idp_id=self.idp_id, last_verified=now))
        revived = {g for g in stale if current[g] + self.ttl <= now}
        return added, removed, revived

    def remove_all(self, user_id):
        """Remove every membership voms-auth gave ``user_id``."""
        return self.sync_memberships(user_id, {})[1]


def revoke_tokens_issued_before_now(user_id):
    """Revoke the user's tokens issued before this second and drop cached
    token validations, as Keystone does when federation changes a user's
    groups.

    Keystone 28.0.2 and later have this as
    ``assignment_api.invalidate_user_cache_on_group_change``; on earlier
    releases (25.0.0 to 28.0.1) the same steps are taken here.
    """
    api = PROVIDERS.assignment_api
    if hasattr(api, 'invalidate_user_cache_on_group_change'):
        api.invalidate_user_cache_on_group_change(user_id)
        return
    assignment_core.COMPUTED_ASSIGNMENTS_REGION.invalidate()
    # One second back, as Keystone does: a token issued in the same second
    # after the change would otherwise be revoked too.
    issued_before = timeutils.utcnow().replace(
        microsecond=0) - datetime.timedelta(seconds=1)
    PROVIDERS.revoke_api.revoke(revoke_model.RevokeEvent(
        user_id=user_id, issued_before=issued_before))
    notifications.invalidate_token_cache_notification(
        'User %s group membership changed' % user_id)
