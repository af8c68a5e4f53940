"""What a mapping hands out: no accidental cloud admin, no privileged rule
that every trusted issuer can reach.

Refusals are problems (the file is not loaded); the rest are warnings
(``Mapping.warnings``), each naming its place and how to fix it.
"""

#: The role that is admin of the whole cloud when held on any project.
CLOUD_ADMIN = 'admin'

#: Why granting ``admin`` is refused (shared by the refusals).
WHY = ("under Keystone's default policies a project-scoped admin is admin "
       "of the whole cloud (can create domains, reset any password)")

#: Roles that change nobody's access: a rule granting only these may
#: match every trusted issuer without a warning.
UNPRIVILEGED = frozenset(('member', 'reader', '_member_'))


def is_cloud_admin(role):
    """Whether role name ``role`` is ``admin`` (Keystone compares role
    names without case)."""
    return role.lower() == CLOUD_ADMIN


def _admin_in(roles):
    """The first of ``roles`` that is ``admin``, as written, or None."""
    return next((r for r in roles if is_cloud_admin(r)), None)


def rule_problems(where, roles, allow_cloud_admin):
    """Problems of a rule's own ``roles`` (``where`` is
    ``FILE: /rules/N``): ``admin`` without ``allow_cloud_admin``."""
    admin = _admin_in(roles)
    if admin is None or allow_cloud_admin:
        return []
    return ['%s/grant/roles: grants "%s": %s; use "manager" or "member", '
            'or set "allow_cloud_admin": true on this rule if that is '
            'really meant' % (where, admin, WHY)]


def defaults_problems(source, roles):
    """Problems of ``defaults.roles``: ``admin`` is never a default."""
    admin = _admin_in(roles)
    if admin is None:
        return []
    return ['%s: /defaults/roles: grants "%s": %s; defaults cannot allow '
            'it: use "member" here, and give a rule that really needs it '
            '"roles": ["%s"] and "allow_cloud_admin": true'
            % (source, admin, WHY, admin)]


def legacy_problems(source, role):
    """Problems of the role a keystone-voms file grants."""
    if not is_cloud_admin(role):
        return []
    return ['%s: role "%s" to grant to every keystone-voms key: %s; set '
            '[voms_auth] legacy_mapping_role (--legacy-role) to "member"'
            % (source, role, WHY)]


def warnings(source, rules):
    """Readable warnings about ``rules`` of the file ``source``."""
    found = []
    for rule in rules:
        if rule.allow_cloud_admin:
            found.append(_allowed_admin(source, rule))
        if _unrestricted(rule):
            found.append(_every_issuer(source, rule))
    return tuple(found)


def _allowed_admin(source, rule):
    admin = _admin_in(rule.grant.roles)
    what = ('grants "%s" on %s' % (admin, rule.grant.project) if admin
            else 'may grant roles that imply "admin"')
    return ('%s: %s: %s with "allow_cloud_admin": true: whoever it matches '
            'is admin of the whole cloud; remove "allow_cloud_admin" and '
            'grant "manager" unless that is really meant'
            % (source, rule.name, what))


def _privileged(roles):
    """The roles among ``roles`` that are not :data:`UNPRIVILEGED`."""
    return [r for r in roles if r.lower() not in UNPRIVILEGED]


def _unrestricted(rule):
    """Whether a rule any trusted issuer can reach grants a privileged
    role."""
    return bool(_privileged(rule.grant.roles)) and not rule.match.kind_bound


def _every_issuer(source, rule):
    match, grant = rule.match, rule.grant
    asserting = ('any membership of VO %s' % match.vo if match.vo
                 else match.group + (' or a group below it'
                                     if match.subgroups else ''))
    if match.role:
        asserting += ' Role=%s' % match.role
    return ('%s: %s matches memberships from VOMS proxies and from tokens '
            'of every trusted issuer; any of them asserting %s gets %s on '
            '%s: restrict it with "kind" and/or "issuer"'
            % (source, rule.name, asserting,
               ', '.join(_privileged(grant.roles)), grant.project))
