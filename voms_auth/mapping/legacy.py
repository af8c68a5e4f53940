"""keystone-voms ``voms.json``, read as keystone-voms documented it.

The file maps keys to ``{"tenant": "<project>"}``. A key is a VO name
(``"dteam"``) or an FQAN (``"/dteam/NGI_IBERGRID"``,
``"/dteam/Role=VM-Manager"``); an FQAN key matches a credential FQAN naming
the same group and role, so the short form of a key matches the long form
(``.../Role=NULL/Capability=NULL``) that VOMS puts in the credential.

keystone-voms gave ONE project: the one of the first FQAN of the
credential (attribute certificate order) that has a key, else the one of
the VO of the credential (the VO of its first FQAN). The file names no
roles (keystone-voms made the user a project member), so the role granted
is the caller's ``role``, and no domain (keystone-voms used the default
domain), so ``domain`` is used. Only VOMS credentials are mapped: the file
predates tokens.
"""

from voms_auth import identity
from voms_auth.mapping import errors, model, privilege
from voms_auth.voms import fqan

_V1_KEYS = frozenset(('version', 'rules', 'defaults', 'deny', 'approval'))


def is_legacy(doc):
    """Whether a parsed JSON object is meant as a keystone-voms file."""
    return not (_V1_KEYS & set(doc))


def _key_problem(key):
    """Why ``key`` is no VO name or FQAN, or ``None``."""
    if key.startswith('/'):
        try:
            fqan.parse_fqan(key)
        except fqan.InvalidFQAN as exc:
            return str(exc)
        return None
    if not identity.is_vo_name(key):
        return 'is neither a VO name nor an FQAN starting with "/"'
    return None


def parse(doc, *, source, domain, role):
    """The :class:`~.model.Mapping` of a keystone-voms file.

    :raises MappingError: listing every problem.
    """
    problems = []
    rules = []
    seen = {}
    if not identity.is_role_name(role):
        problems.append('%s: role "%s" to grant is not a role name'
                        % (source, role))
    problems.extend(privilege.legacy_problems(source, role))
    if not doc:
        problems.append('%s: keystone-voms mapping without keys: nobody '
                        'could log in' % source)
    for key, value in doc.items():
        where = '%s: key "%s"' % (source, key)
        key_problem = _key_problem(key)
        if key_problem:
            problems.append('%s: %s' % (where, key_problem))
        if not isinstance(value, dict):
            problems.append('%s: the value must be an object like '
                            '{"tenant": "<project>"}' % where)
            continue
        extra = sorted(set(value) - {'tenant'})
        if extra:
            problems.append('%s: unknown key%s %s (keystone-voms reads only '
                            '"tenant")' % (where, '' if len(extra) == 1
                                           else 's',
                                           ', '.join('"%s"' % k
                                                     for k in extra)))
        tenant = value.get('tenant')
        if not isinstance(tenant, str) or not tenant or len(tenant) > 64:
            problems.append('%s: "tenant" must be a project name (1 to 64 '
                            'characters)' % where)
            continue
        if key_problem or extra:
            continue
        if key.startswith('/'):
            parsed = fqan.parse_fqan(key)
            match = model.Match(fqan=parsed, kind=identity.KIND_VOMS)
            same = (parsed.group, parsed.role)
        else:
            match = model.Match(vo=key, kind=identity.KIND_VOMS)
            same = key
        if same in seen:
            problems.append('%s: names the same %s as key "%s"'
                            % (where, 'FQAN' if key.startswith('/')
                               else 'VO', seen[same]))
            continue
        seen[same] = key
        rules.append(model.Rule(
            name=key, match=match,
            grant=model.Grant(tenant, domain, (role,), False),
            description='keystone-voms key "%s"' % key))
    if problems:
        raise errors.MappingError(problems)
    return LegacyMapping(source=source, rules=tuple(rules))


class LegacyMapping(model.Mapping):
    """A keystone-voms mapping: first-match evaluation, no deny entries,
    no approval list, VOMS identities only.

    ONE project: that of the first FQAN of the credential (attribute
    certificate order) that has an FQAN key, else that of the VO of the
    credential's first FQAN, else none.
    """

    format = model.FORMAT_LEGACY

    def __post_init__(self):
        super().__post_init__()
        # keystone-voms's VO fallback, looked up instead of walking every
        # key at every login (see voms_auth.mapping.index for why).
        first_by_vo = {}
        for rule in self.rules:
            if rule.match.vo is not None:
                first_by_vo.setdefault(rule.match.vo, rule)
        object.__setattr__(self, '_first_by_vo', first_by_vo)

    def _matches(self, identity_):
        """The one rule keystone-voms would apply, as a list (empty when
        none applies)."""
        if identity_.kind != identity.KIND_VOMS:
            return []
        for membership in identity_.memberships:
            rule = self._first_fqan_rule(identity_, membership)
            if rule is not None:
                return [_applied(rule, membership)]
        if identity_.memberships:
            first = identity_.memberships[0]
            rule = self._first_by_vo.get(first.vo)
            if rule is not None:
                return [_applied(rule, first)]
        return []

    def _first_fqan_rule(self, identity_, membership):
        """The first FQAN rule (file order) matching ``membership``, or
        ``None``."""
        index = self._rule_index
        positions = [p for p in index.candidates(membership, False)
                     if index.rules[p].match.fqan is not None
                     and index.rules[p].match.matches(identity_, membership)]
        return index.rules[min(positions)] if positions else None


def _applied(rule, membership):
    """The :class:`~.model.RuleMatch` of ``rule`` by one membership."""
    return model.RuleMatch(rule.name, rule.description, (membership,),
                           rule.grant, rule.match)


def convert(mapping, *, role, domain=None):
    """A version 1 document equivalent to a keystone-voms mapping.

    Returns ``(document, notes)``. Version 1 grants the union of every
    matching rule where keystone-voms granted the first match only; a note
    names every VO whose keys can now add up (a VM-Manager of dteam with
    keys ``dteam`` and ``/dteam/Role=VM-Manager`` gets both projects).
    """
    if mapping.format != model.FORMAT_LEGACY:
        raise errors.MappingError(['%s: is already a voms-auth mapping; '
                                   'only keystone-voms files are converted'
                                   % mapping.source])
    defaults = {'roles': [role]}
    if domain:
        defaults['domain'] = domain
    rules = []
    per_vo = {}
    for rule in mapping.rules:
        if rule.match.fqan is not None:
            condition = {'fqan': rule.name}
            vo = rule.match.fqan.vo
        else:
            condition = {'vo': rule.match.vo}
            vo = rule.match.vo
        per_vo.setdefault(vo, []).append(rule.name)
        rules.append({'description': rule.description,
                      'match': dict(condition, kind='voms'),
                      'grant': {'project': rule.grant.project}})
    document = {
        'version': 1,
        'description': 'Converted from the keystone-voms file %s'
                       % mapping.source,
        'defaults': defaults,
        'rules': rules,
    }
    notes = ['VO "%s": keystone-voms gave only the first matching key of '
             '%s; this mapping gives the projects of every key that '
             'matches' % (vo, ', '.join('"%s"' % k for k in keys))
             for vo, keys in per_vo.items() if len(keys) > 1]
    return document, notes
