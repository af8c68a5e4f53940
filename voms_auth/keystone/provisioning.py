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

import keystone.conf
import sqlalchemy
from keystone import exception, notifications
from keystone.assignment import core as assignment_core
from keystone.assignment.backends import sql as assignment_sql
from keystone.assignment.role_backends import base as role_base
from keystone.assignment.role_backends import sql_model as role_model
from keystone.common import provider_api, sql
from keystone.common import utils as keystone_utils
from keystone.federation.backends import sql as federation_sql
from keystone.identity.backends import sql_model
from keystone.models import revoke_model
from keystone.resource.backends import sql_model as resource_model
from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exception
from oslo_utils import timeutils
from sqlalchemy import exc as sqlalchemy_exc

from voms_auth import errors
from voms_auth.identity import KINDS

CONF = keystone.conf.CONF
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


class Plan:
    """What a mapping result amounts to in Keystone.

    ``desired``: ``{group id: (project id, role id)}``; ``names``: ``{group
    id: (project name, role name)}`` (for group descriptions); ``create``:
    ``{project id: (domain id, name)}``, projects the mapping creates that
    did not exist when the plan was made (ids are deterministic).
    """

    def __init__(self, idp_id, domain_id):
        self.idp_id = idp_id
        self.domain_id = domain_id
        self.desired = {}
        self.names = {}
        self.create = {}

    def add(self, project_id, role_id, project_name, role_name):
        gid = group_id(self.idp_id, project_id, role_id)
        self.desired[gid] = (project_id, role_id)
        self.names[gid] = (project_name, role_name)

    def create_project(self, domain_id, grant):
        """Plan the creation of ``grant``'s project; its id."""
        project_id = project_id_for(domain_id, grant.project)
        self.create[project_id] = (domain_id, grant.project)
        return project_id

    def resolved(self, renamed):
        """This plan with the planned project ids of ``renamed`` replaced
        by the ids of projects found to exist (a concurrent creation)."""
        if not renamed:
            return self
        plan = Plan(self.idp_id, self.domain_id)
        for gid, (project_id, role_id) in self.desired.items():
            plan.add(renamed.get(project_id, project_id), role_id,
                     *self.names[gid])
        return plan

    @property
    def project_ids(self):
        """The ids of the projects the plan grants roles on."""
        return frozenset(p for p, _ in self.desired.values())


def project_id_for(domain_id, name):
    """Deterministic id of a project voms-auth creates."""
    return hashlib.sha256(('\0'.join(
        ('voms-auth-project', domain_id, name))).encode()).hexdigest()[:32]


def _read_names(grants):
    """``({domain name: id}, {(domain id, project name): id}, {role name:
    id})`` for the names ``grants`` use, in one statement. Only exact
    spellings are keys; the caller asks Keystone for the others."""
    domain_names = {g.domain for g in grants}
    project_names = {g.project for g in grants}
    role_names = {r for g in grants for r in g.roles}
    if not grants:
        return {}, {}, {}
    project = resource_model.Project.__table__
    role = role_model.RoleTable.__table__

    def kind(letter):
        return sqlalchemy.literal_column("'%s'" % letter)

    domain_ids = sqlalchemy.select(project.c.id).where(
        project.c.is_domain.is_(True), project.c.name.in_(domain_names))
    query = sqlalchemy.union_all(
        sqlalchemy.select(project.c.id, project.c.name, project.c.domain_id,
                          kind('d')).where(
            project.c.is_domain.is_(True), project.c.name.in_(domain_names)),
        sqlalchemy.select(project.c.id, project.c.name, project.c.domain_id,
                          kind('p')).where(
            project.c.is_domain.is_(False), project.c.name.in_(project_names),
            project.c.domain_id.in_(domain_ids)),
        sqlalchemy.select(role.c.id, role.c.name, role.c.domain_id,
                          kind('r')).where(
            role.c.name.in_(role_names),
            role.c.domain_id == role_base.NULL_DOMAIN_ID))
    domains, projects, roles = {}, {}, {}
    with sql.session_for_read() as session:
        for row_id, name, domain_id, what in session.execute(query):
            if what == 'd':
                domains[name] = row_id
            elif what == 'p':
                projects[(domain_id, name)] = row_id
            else:
                roles[name] = row_id
    return domains, projects, roles


def scope_project(wanted):
    """The project a token request scopes to (``{'id': ...}`` or ``{'name':
    ..., 'domain': {'id' or 'name': ...}}``) as ``{id, name, enabled,
    domain_name, domain_enabled}``, or ``None`` when Keystone does not know
    it (its own scope check then refuses). One statement, read from the
    database as Keystone's lookups would.
    """
    project = resource_model.Project.__table__
    domain = project.alias('scope_domain')
    query = sqlalchemy.select(
        project.c.id, project.c.name, project.c.enabled, domain.c.name,
        domain.c.enabled).select_from(
        project.join(domain, domain.c.id == project.c.domain_id))
    project_id, name = _text(wanted.get('id')), _text(wanted.get('name'))
    in_domain = wanted.get('domain')
    in_domain = in_domain if isinstance(in_domain, dict) else {}
    domain_id, domain_name = (_text(in_domain.get('id')),
                              _text(in_domain.get('name')))
    if project_id:
        query = query.where(project.c.id == project_id)
    elif name and domain_id:
        query = query.where(project.c.name == name,
                            domain.c.id == domain_id)
    elif name and domain_name:
        query = query.where(project.c.name == name,
                            domain.c.name == domain_name,
                            domain.c.is_domain.is_(True))
    else:
        return None
    with sql.session_for_read() as session:
        row = session.execute(query).first()
    if row is None:
        return None
    return dict(zip(('id', 'name', 'enabled', 'domain_name',
                     'domain_enabled'), row, strict=True))


def _text(value):
    """``value`` when it is a non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


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
        ``oidc`` (Keystone's ``federated_user`` rows refer to them) and
        align its ``authorization_ttl``; refuse while an admin has
        disabled it.

        :raises AccessRefused: the identity provider is disabled.
        """
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

    # -- one login: what is, against what the mapping grants ----------------
    def reading(self):
        """One read transaction for what follows (nested reads join it)."""
        return sql.session_for_read()

    def person(self, identity):
        """``(user domain id, user or None, identity provider ready)``
        for a login, in one statement.

        The user domain, the identity provider and the person's user come
        from the database, never from a Keystone cache (another node or an
        admin may have changed them). The identity provider is not ready
        when it is missing or its ``authorization_ttl`` differs from ours
        (:meth:`ensure_identity_provider` then sets it up). The user is
        ``{'id', 'enabled'}``.

        :raises MappingTargetError: the user domain does not exist.
        :raises AccessRefused: the user domain or the identity provider is
            disabled.
        """
        row = self._read_person(identity)
        if row is None:
            self.domain()  # raises with the reason
            raise MappingTargetError('user domain %r not found'
                                     % self.user_domain)
        domain_id, domain_enabled, idp_enabled, idp_ttl, user_id, \
            user_enabled = row
        if not domain_enabled:
            raise AccessRefused('domain %s of grid users is disabled'
                                % self.user_domain)
        if idp_enabled is not None and not idp_enabled:
            raise AccessRefused('identity provider %s of grid users is '
                                'disabled in Keystone' % self.idp_id)
        ready = (idp_enabled is not None
                 and idp_ttl == int(self.ttl.total_seconds() // 60))
        if user_id is None:
            return domain_id, None, ready
        if (user_enabled and CONF.security_compliance.
                disable_user_account_days_inactive):
            # Keystone's own rule (inactivity) needs the whole user.
            user_enabled = PROVIDERS.identity_api.get_user(user_id).get(
                'enabled', True)
        return domain_id, {'id': user_id, 'enabled': bool(user_enabled)}, \
            ready

    def _read_person(self, identity):
        domain = resource_model.Project.__table__
        idp = federation_sql.IdentityProviderModel.__table__
        federated = sql_model.FederatedUser.__table__
        user = sql_model.User.__table__
        query = sqlalchemy.select(
            domain.c.id, domain.c.enabled, idp.c.enabled,
            idp.c.authorization_ttl, user.c.id, user.c.enabled,
        ).select_from(domain.outerjoin(
            idp, idp.c.id == sqlalchemy.literal(self.idp_id),
        ).outerjoin(federated, sqlalchemy.and_(
            federated.c.idp_id == sqlalchemy.literal(self.idp_id),
            federated.c.protocol_id == identity.kind,
            federated.c.unique_id == person_key(identity)),
        ).outerjoin(user, user.c.id == federated.c.user_id)).where(
            domain.c.is_domain.is_(True), domain.c.name == self.user_domain)
        with sql.session_for_read() as session:
            return session.execute(query).first()

    def plan(self, grants, domain_id):
        """The :class:`Plan` ``grants`` amount to: the (project, role)
        pairs and their managed groups, and the projects the mapping
        creates that do not exist yet (none is created here).

        Domains, projects and roles are read in one statement; a name the
        database matched but spelt differently (MariaDB's collation) goes
        through Keystone's own lookup. A missing project the mapping does
        not create is skipped with a warning.

        :raises MappingTargetError: a domain or role is missing, or a
            project to create has a name Keystone refuses.
        """
        domains, projects, roles = _read_names(grants)
        plan = Plan(self.idp_id, domain_id)
        for grant in grants:
            grant_domain = domains.get(grant.domain) or self._domain_id(
                grant.domain, domains)
            project_id = projects.get((grant_domain, grant.project))
            if project_id is None:
                project_id = self._project_id(grant, grant_domain, plan)
            if project_id is None:
                continue
            for role in grant.roles:
                role_id = roles.get(role) or self._role_id(role, roles)
                plan.add(project_id, role_id, grant.project, role)
        return plan

    @staticmethod
    def _domain_id(name, cache):
        try:
            ref = PROVIDERS.resource_api.get_domain_by_name(name)
        except exception.DomainNotFound:
            raise MappingTargetError(
                'domain %r named by the mapping does not exist in '
                'Keystone' % name) from None
        cache[name] = ref['id']
        return cache[name]

    @staticmethod
    def _project_id(grant, domain_id, plan):
        """A project the batch read did not find by its exact name:
        Keystone's own lookup (the database's collation decides), else
        one to create where the mapping says so (``None`` otherwise)."""
        try:
            return PROVIDERS.resource_api.get_project_by_name(
                grant.project, domain_id)['id']
        except exception.ProjectNotFound:
            pass
        if not grant.create:
            LOG.warning('mapped project %s in domain %s does not exist '
                        'and the mapping does not create it; skipped',
                        grant.project, grant.domain)
            return None
        if (CONF.resource.project_name_url_safe != 'off'
                and keystone_utils.is_not_url_safe(grant.project)):
            raise MappingTargetError(
                'the mapping creates project %r, whose name is not URL-safe '
                '([resource] project_name_url_safe)' % grant.project)
        return plan.create_project(domain_id, grant)

    @staticmethod
    def _role_id(name, cache):
        try:
            cache[name] = PROVIDERS.role_api.get_unique_role_by_name(
                name)['id']
        except exception.RoleNotFound:
            raise MappingTargetError(
                'role %r named by the mapping does not exist in '
                'Keystone' % name) from None
        return cache[name]

    def in_step(self, user_id, plan):
        """Whether nothing needs writing: every group of ``plan`` holds
        its role on its project, the user is in exactly those voms-auth
        groups, and each membership was confirmed less than 1/24 of
        ``authorization_ttl`` ago.

        One read statement over the live rows, so a change made by a login
        on another node, an admin deleting a group or its role, or a
        membership nearing its end all show here and lead to
        :meth:`apply`. Nothing is stored to remember the last login.
        """
        if plan.create:
            return False
        wanted = len(plan.desired)
        membership = sql_model.ExpiringUserGroupMembership.__table__
        assignment = assignment_sql.RoleAssignment.__table__
        refresh_before = timeutils.utcnow() - self.ttl / 24
        mine = (membership.c.user_id == user_id,
                membership.c.idp_id == self.idp_id)
        count = sqlalchemy.func.count
        held = sqlalchemy.select(count()).select_from(membership).where(
            *mine).scalar_subquery()
        fresh = sqlalchemy.select(count()).select_from(membership).where(
            *mine, membership.c.group_id.in_(list(plan.desired)),
            membership.c.last_verified >= refresh_before).scalar_subquery()
        granted = sqlalchemy.select(count()).select_from(assignment).where(
            assignment.c.type == assignment_sql.AssignmentType.GROUP_PROJECT,
            assignment.c.inherited.is_(False),
            sqlalchemy.tuple_(assignment.c.actor_id, assignment.c.target_id,
                              assignment.c.role_id).in_(
                [(gid, p, r) for gid, (p, r) in plan.desired.items()]),
        ).scalar_subquery()
        with sql.session_for_read() as session:
            row = session.execute(sqlalchemy.select(held, fresh,
                                                    granted)).one()
        return tuple(row) == (wanted, wanted, wanted)

    def apply(self, user_id, plan):
        """Make the user's managed state ``plan`` in one transaction:
        create the projects the mapping creates, the missing groups and
        their grants, and add, refresh and remove the user's memberships.

        A concurrent login (process, node) writing the same rows, a
        deadlock or an SQLite lock runs the whole transaction again; it
        then finds what the other one wrote.

        :returns: ``(added, removed)`` group id sets.
        """
        created, added, removed, revived = self._apply_rows(user_id, plan)
        for project_id in created:
            notifications.Audit.created('project', project_id)
        self._after_sync(user_id, added, removed, revived or created)
        return added, removed

    @oslo_db_api.wrap_db_retry(
        max_retries=10, retry_on_deadlock=True, retry_interval=0.05,
        inc_retry_interval=True, max_retry_interval=1,
        exception_checker=lambda exc: _retriable(exc) or isinstance(
            exc, exception.Conflict))
    def _apply_rows(self, user_id, plan):
        with sql.session_for_write() as session:
            plan, created = self._create_projects(session, plan)
            self._create_groups(session, plan)
            self._create_grants(session, plan)
            session.flush()
            added, removed, revived = self._sync_in(session, user_id,
                                                    set(plan.desired))
        return created, added, removed, revived

    def _create_projects(self, session, plan):
        """The projects of ``plan.create`` that still do not exist,
        created; those a concurrent request created first are used as
        they are. ``(plan with final project ids, created ids)``."""
        if not plan.create:
            return plan, []
        model = resource_model.Project
        names = {name for _, name in plan.create.values()}
        rows = session.query(model.id, model.name, model.domain_id).filter(
            model.name.in_(names), model.is_domain.is_(False),
            model.domain_id.in_({d for d, _ in plan.create.values()}))
        found = {(domain_id, name): project_id
                 for project_id, name, domain_id in rows}
        renamed, created = {}, []
        for project_id, (domain_id, name) in plan.create.items():
            existing = found.get((domain_id, name))
            if existing is not None:
                renamed[project_id] = existing
                continue
            PROVIDERS.resource_api.driver.create_project(project_id, {
                'id': project_id, 'name': name, 'domain_id': domain_id,
                'parent_id': domain_id, 'enabled': True, 'is_domain': False,
                'description': 'created by voms-auth from the mapping',
                'tags': []})
            created.append(project_id)
            LOG.info('created project %s (%s)', project_id,
                     errors.printable(name))
        session.flush()
        return plan.resolved(renamed), created

    def _create_groups(self, session, plan):
        model = sql_model.Group
        existing = {gid for gid, in session.query(model.id).filter(
            model.id.in_(list(plan.desired)))}
        for gid in sorted(set(plan.desired) - existing):
            project_name, role_name = plan.names[gid]
            PROVIDERS.identity_api.driver.create_group(gid, {
                'id': gid, 'domain_id': plan.domain_id,
                'name': GROUP_PREFIX + gid,
                'description': 'role %s on project %s: grid users the '
                               'voms-auth mapping grants it; managed by '
                               'voms-auth' % (role_name, project_name)})
            LOG.info('created group %s (role %s on project %s)', gid,
                     role_name, errors.printable(project_name))

    @staticmethod
    def _create_grants(session, plan):
        model = assignment_sql.RoleAssignment
        kind = assignment_sql.AssignmentType.GROUP_PROJECT
        existing = set(session.query(
            model.actor_id, model.target_id, model.role_id).filter(
            model.type == kind, model.inherited.is_(False),
            model.actor_id.in_(list(plan.desired))))
        for gid, (project_id, role_id) in sorted(plan.desired.items()):
            if (gid, project_id, role_id) not in existing:
                session.add(model(type=kind, actor_id=gid,
                                  target_id=project_id, role_id=role_id,
                                  inherited=False))

    def sync_memberships(self, user_id, desired):
        """Hold exactly the memberships in ``desired`` (group ids; the
        groups exist), in one transaction.

        :returns: ``(added, removed)`` group id sets.
        """
        added, removed, revived = self._sync_rows(user_id, set(desired))
        self._after_sync(user_id, added, removed, revived)
        return added, removed

    def _after_sync(self, user_id, added, removed, changed):
        if added or removed or changed:
            assignment_core.COMPUTED_ASSIGNMENTS_REGION.invalidate()
        if removed:
            # Tokens issued before now carry roles that are gone.
            revoke_tokens_issued_before_now(user_id)
        if added or removed:
            LOG.info('user %s: added to %d and removed from %d voms-auth '
                     'groups following the mapping', user_id, len(added),
                     len(removed))

    @oslo_db_api.wrap_db_retry(
        max_retries=10, retry_on_deadlock=True, retry_interval=0.05,
        inc_retry_interval=True, max_retry_interval=1,
        exception_checker=_retriable)
    def _sync_rows(self, user_id, desired):
        """One transaction; retried when a concurrent login inserted the
        same row, or the database reports a deadlock (MariaDB) or a lock
        (SQLite, whose writers exclude each other)."""
        with sql.session_for_write() as session:
            return self._sync_in(session, user_id, desired)

    def _sync_in(self, session, user_id, desired):
        """Add, refresh (older than 1/24 of the TTL) and remove the
        user's memberships within ``session``; ``(added, removed,
        revived)``."""
        now = timeutils.utcnow()
        refresh_before = now - self.ttl / 24
        model = sql_model.ExpiringUserGroupMembership
        query = session.query(model).filter_by(user_id=user_id,
                                               idp_id=self.idp_id)
        current = dict(session.query(model.group_id, model.last_verified)
                       .filter_by(user_id=user_id, idp_id=self.idp_id))
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
        return self.sync_memberships(user_id, set())[1]


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
