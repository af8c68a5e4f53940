"""The parsed mapping: rules, their conditions, and evaluation results.

Everything here is immutable; a :class:`Mapping` is safe to share between
threads. Matching reads nothing but the :class:`~voms_auth.identity.Identity`.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Optional, Tuple

from voms_auth.identity import KIND_OIDC, KIND_VOMS, Membership
from voms_auth.mapping.index import DenyIndex, RuleIndex
from voms_auth.oidc import entitlements

#: ``Mapping.format`` of a voms-auth mapping document (``"version": 1``).
FORMAT_V1 = 'voms-auth/1'
#: ``Mapping.format`` of a keystone-voms ``voms.json`` read as it was.
FORMAT_LEGACY = 'keystone-voms'

#: ``MappingResult.approval`` of a person the approval list names.
APPROVAL_LISTED = 'listed'
#: ``MappingResult.approval`` of a person it does not name, when approval
#: is required (the Keystone glue may still approve a pre-created user).
APPROVAL_NOT_LISTED = 'not-listed'


def in_group(group, path):
    """Whether group ``group`` is ``path`` or a group below it."""
    return group == path or group.startswith(path + '/')


def same_person_kind(identity, kind, issuer):
    """Whether ``identity`` is of ``kind`` and from ``issuer`` (each
    ``None`` meaning "any")."""
    return ((kind is None or identity.kind == kind)
            and (issuer is None or identity.issuer == issuer))


def stated(conditions):
    """The conditions of a dataclass that are set, as written (for
    ``explain``): ``None`` and ``False`` are left out, a parsed FQAN is
    shown as its source text."""
    out = {}
    for field in dataclasses.fields(conditions):
        if not field.init:      # derived, not written in the file
            continue
        value = getattr(conditions, field.name)
        if isinstance(value, Membership):
            value = value.source
        if value not in (None, False):
            out[field.name] = value
    return out


def same_entitlement(want, presented):
    """Whether entitlement ``presented`` is the one whose
    ``entitlement_key`` is ``want`` (``None`` matches nothing).

    Equality is aarc-entitlement's (the URN namespace is compared without
    case, group and role exactly). The ``#authority`` counts only when
    the wanted entitlement states one.
    """
    have = entitlements.entitlement_key(presented)
    if want is None or have is None or want[0] != have[0]:
        return False
    return want[1] is None or want[1] == have[1]


def stated_by_vo(identity, vo, wanted):
    """Whether for every ``(name, values)`` of ``wanted`` the AC of VO
    ``vo`` of ``identity`` states Generic Attribute ``name`` with one of
    ``values`` (VOMS identities only)."""
    if identity.kind != KIND_VOMS:
        return False
    have = identity.attributes.get('vo_generic_attributes', ())
    return all(any((vo, name, value) in have for value in values)
               for name, values in wanted)


@dataclasses.dataclass(frozen=True)
class Match:
    """The conditions of one rule, all of which must hold.

    Membership conditions (``vo``, ``group``, ``role``, ``fqan``,
    ``entitlement``) must all hold for ONE membership; identity conditions
    (``kind``, ``issuer``, ``robot``) for the person. ``group`` is exact
    unless ``subgroups`` is true. ``fqan`` holds the parsed FQAN (matches
    VOMS memberships with the same group and role); ``entitlement`` the raw
    entitlement (matches OIDC memberships, see :func:`same_entitlement`).

    ``robot``: ``True`` matches robot certificates only, ``False`` every
    other credential (the identity attribute ``robot``).
    ``generic_attributes``: ``((name, (value, ...)), ...)``; every name
    must have one of its values among the VOMS Generic Attributes that the
    AC of the matched membership's VO states (identity attribute
    ``vo_generic_attributes``: ``(vo, name, value)`` triples), so one VO's
    server cannot grant in another VO; never matches tokens.
    """

    vo: Optional[str] = None
    group: Optional[str] = None
    subgroups: bool = False
    role: Optional[str] = None
    fqan: Optional[Membership] = None
    entitlement: Optional[str] = None
    kind: Optional[str] = None
    issuer: Optional[str] = None
    robot: Optional[bool] = None
    generic_attributes: Optional[Tuple[Tuple[str, Tuple[str, ...]], ...]] = (
        None)
    # The entitlement's key, computed once here: looked up at every login,
    # it would fall out of the parser's memo (4,096 values) in a mapping
    # with more entitlement rules (2.6 ms -> 91 ms per login, issue 15).
    _entitlement_key: object = dataclasses.field(
        init=False, repr=False, compare=False, default=None)

    def __post_init__(self):
        object.__setattr__(self, '_entitlement_key',
                           entitlements.entitlement_key(self.entitlement))
        # The loader reports these readably; this guards direct use.
        if not (self.vo or self.group or self.fqan or self.entitlement):
            raise ValueError('a rule must name a VO, group, FQAN or '
                             'entitlement')
        if self.subgroups and not self.group:
            raise ValueError('subgroups needs a group')

    def matches(self, identity, membership):
        """Whether ``membership`` of ``identity`` satisfies every condition.
        """
        # Called for every rule and membership at every login: the person
        # conditions are inlined (see same_person_kind).
        if self.kind is not None and identity.kind != self.kind:
            return False
        if self.issuer is not None and identity.issuer != self.issuer:
            return False
        if self.robot is not None and (
                bool(identity.attributes.get('robot')) != self.robot):
            return False
        if self.generic_attributes is not None and not stated_by_vo(
                identity, membership.vo, self.generic_attributes):
            return False
        if self.fqan is not None:
            return (identity.kind == KIND_VOMS
                    and membership.vo == self.fqan.vo
                    and membership.group == self.fqan.group
                    and membership.role == self.fqan.role)
        if self.entitlement is not None:
            return (identity.kind == KIND_OIDC
                    and same_entitlement(self._entitlement_key,
                                         membership.source))
        if self.vo is not None and membership.vo != self.vo:
            return False
        if self.group is not None and membership.group != self.group:
            if not (self.subgroups and in_group(membership.group,
                                                self.group)):
                return False
        if self.role is not None and membership.role != self.role:
            return False
        return True

    @property
    def kind_bound(self):
        """Whether only one kind of credential (or one issuer) can match:
        ``kind``, ``issuer``, ``fqan`` (proxies) or ``entitlement``
        (tokens)."""
        return bool(self.kind or self.issuer or self.fqan
                    or self.entitlement or self.generic_attributes)

    def as_dict(self):
        """The conditions as written (``robot: false`` included,
        ``generic_attributes`` as ``{name: value or [values]}``)."""
        out = stated(self)
        if self.robot is not None:
            out['robot'] = self.robot
        if self.generic_attributes is not None:
            out['generic_attributes'] = {
                name: values[0] if len(values) == 1 else list(values)
                for name, values in self.generic_attributes}
        return out


@dataclasses.dataclass(frozen=True)
class Grant:
    """Roles on one project. ``roles`` is sorted and without repeats."""

    project: str
    domain: str
    roles: Tuple[str, ...]
    create: bool = False

    def __post_init__(self):
        object.__setattr__(self, 'roles', tuple(sorted(set(self.roles))))
        if not self.project or not self.domain or not self.roles:
            raise ValueError('a grant needs a project, a domain and roles')

    def as_dict(self):
        return {'project': self.project, 'domain': self.domain,
                'roles': list(self.roles), 'create': self.create}


@dataclasses.dataclass(frozen=True)
class Rule:
    """One rule: ``name`` says where it is (``/rules/3`` or a legacy key).

    ``allow_cloud_admin`` is the file's explicit consent that this rule
    may make people admin of the whole cloud (it grants ``admin``, or a
    role Keystone makes imply it).
    """

    name: str
    match: Match
    grant: Grant
    description: str = ''
    allow_cloud_admin: bool = False


@dataclasses.dataclass(frozen=True)
class DenyMatch:
    """The conditions of one deny entry, all of which must hold.

    ``subject`` and ``issuer`` equal the identity's exactly, ``kind`` its
    kind; ``vo`` and ``group`` hold for ONE membership: ``vo`` any
    membership in that VO, ``group`` that group or any group below it.
    """

    subject: Optional[str] = None
    issuer: Optional[str] = None
    kind: Optional[str] = None
    vo: Optional[str] = None
    group: Optional[str] = None

    def __post_init__(self):
        # The loader reports this readably; this guards direct use.
        if not (self.subject or self.issuer or self.vo or self.group):
            raise ValueError('a deny entry must name a subject, issuer, VO '
                             'or group')

    def matches(self, identity):
        """Whether ``identity`` satisfies every condition."""
        if not same_person_kind(identity, self.kind, self.issuer):
            return False
        if self.subject is not None and identity.subject != self.subject:
            return False
        if self.vo is None and self.group is None:
            return True
        return any(self._member(m) for m in identity.memberships)

    def _member(self, membership):
        if self.vo is not None and membership.vo != self.vo:
            return False
        return self.group is None or in_group(membership.group, self.group)

    def as_dict(self):
        return stated(self)


@dataclasses.dataclass(frozen=True)
class Deny:
    """One deny entry: ``name`` says where it is (``/deny/0``)."""

    name: str
    match: DenyMatch
    description: str = ''

    def as_dict(self):
        return {'name': self.name, 'description': self.description,
                'match': self.match.as_dict()}


@dataclasses.dataclass(frozen=True)
class Person:
    """A person on the approval list: ``(kind, issuer, subject)`` as in
    :class:`~voms_auth.identity.Identity`."""

    kind: str
    issuer: str
    subject: str
    comment: str = ''

    @property
    def key(self):
        return (self.kind, self.issuer, self.subject)


@dataclasses.dataclass(frozen=True)
class Approval:
    """Approval mode: when ``required``, only the listed ``people`` are
    approved by the mapping."""

    required: bool
    people: Tuple[Person, ...] = ()
    _keys: frozenset = dataclasses.field(init=False, repr=False,
                                         compare=False)

    def __post_init__(self):
        object.__setattr__(self, 'people', tuple(self.people))
        object.__setattr__(self, '_keys',
                           frozenset(p.key for p in self.people))

    def state(self, identity):
        """``None`` (approval not required), :data:`APPROVAL_LISTED` or
        :data:`APPROVAL_NOT_LISTED` for ``identity``."""
        if not self.required:
            return None
        key = (identity.kind, identity.issuer, identity.subject)
        return APPROVAL_LISTED if key in self._keys else APPROVAL_NOT_LISTED


@dataclasses.dataclass(frozen=True)
class RuleMatch:
    """A rule that matched, and the memberships it matched."""

    rule: str
    description: str
    memberships: Tuple[Membership, ...]
    grant: Grant
    conditions: Optional[Match] = None

    def as_dict(self):
        return {
            'rule': self.rule,
            'description': self.description,
            'match': self.conditions.as_dict() if self.conditions else {},
            'memberships': [dict(m.as_dict(), source=m.source)
                            for m in self.memberships],
            'grant': self.grant.as_dict(),
        }


@dataclasses.dataclass(frozen=True)
class MappingResult:
    """What a person gets: ``grants`` (one per project, roles unioned) and
    the rules that gave them (``matched``). Empty grants: refuse the login.

    ``denied_by`` is the :class:`Deny` entry that denied the person (then
    there are no grants), or ``None``. ``approval`` is ``None`` (the
    mapping requires no approval), :data:`APPROVAL_LISTED` or
    :data:`APPROVAL_NOT_LISTED`; the grants are computed either way, the
    Keystone glue decides what a person not listed gets.
    """

    grants: Tuple[Grant, ...]
    matched: Tuple[RuleMatch, ...]
    denied_by: Optional[Deny] = None
    approval: Optional[str] = None

    def __bool__(self):
        return bool(self.grants)

    def as_dict(self):
        return {'matched': [m.as_dict() for m in self.matched],
                'grants': [g.as_dict() for g in self.grants],
                'denied_by': (self.denied_by.as_dict()
                              if self.denied_by else None),
                'approval': self.approval}


def _union(matched, *, denied_by=None, approval=None):
    """The :class:`MappingResult` of ``matched``: grants merged per
    project and domain."""
    merged = {}
    for match in matched:
        grant = match.grant
        key = (grant.project, grant.domain)
        if key in merged:
            old = merged[key]
            grant = Grant(old.project, old.domain, old.roles + grant.roles,
                          old.create or grant.create)
        merged[key] = grant
    return MappingResult(tuple(merged.values()), tuple(matched),
                         denied_by=denied_by, approval=approval)


@dataclasses.dataclass(frozen=True)
class Mapping:
    """A loaded voms-auth mapping (:data:`FORMAT_V1`): every matching rule
    applies, grants are unioned per project.

    ``deny`` entries are matched first: a denied person gets nothing.
    ``approval`` (an :class:`Approval` or ``None``) says whether the
    person is on the approval list. ``warnings`` are readable sentences
    about what the file allows (each starting with the file and a JSON
    pointer); log or print them whenever the file is loaded. Subclasses
    change how rules are matched (:meth:`_matches`), nothing else.
    """

    #: What kind of file this is; :mod:`.legacy` has its own subclass.
    format: ClassVar[str] = FORMAT_V1

    source: str
    rules: Tuple[Rule, ...]
    description: str = ''
    deny: Tuple[Deny, ...] = ()
    approval: Optional[Approval] = None
    warnings: Tuple[str, ...] = ()
    # Built once per load, see voms_auth.mapping.index for why.
    _rule_index: RuleIndex = dataclasses.field(
        init=False, repr=False, compare=False, default=None)
    _deny_index: DenyIndex = dataclasses.field(
        init=False, repr=False, compare=False, default=None)

    def __post_init__(self):
        object.__setattr__(self, '_rule_index', RuleIndex(self.rules))
        object.__setattr__(self, '_deny_index', DenyIndex(self.deny))

    def evaluate(self, identity) -> MappingResult:
        """The projects and roles ``identity`` gets under this mapping
        (none when a deny entry matches), and its approval state."""
        approval = self.approval.state(identity) if self.approval else None
        denied = self.denied_by(identity)
        matched = () if denied else self._matches(identity)
        return _union(matched, denied_by=denied, approval=approval)

    def denied_by(self, identity) -> Optional[Deny]:
        """The first deny entry matching ``identity``, or ``None``."""
        return self._deny_index.first(identity)

    def _matches(self, identity):
        """Every rule with a membership of ``identity`` it matches, in
        rule order."""
        return [RuleMatch(rule.name, rule.description, members, rule.grant,
                          rule.match)
                for rule, members in self._rule_index.matches(identity)]

    def granted_roles(self):
        """``{role name: (rule name, ...)}`` of every role granted by a
        rule WITHOUT ``allow_cloud_admin``.

        For the Keystone glue: none of these roles may imply ``admin``
        (a rule granting ``admin`` itself is refused by the loader).
        """
        granted = {}
        for rule in self.rules:
            if not rule.allow_cloud_admin:
                for role in rule.grant.roles:
                    granted.setdefault(role, []).append(rule.name)
        return {role: tuple(names) for role, names in granted.items()}

    @property
    def projects(self):
        """``(project, domain)`` pairs the rules name, in rule order."""
        return tuple(dict.fromkeys((r.grant.project, r.grant.domain)
                                   for r in self.rules))

    def summary(self):
        """One line for ``mapping check``."""
        extra = ''
        if self.deny:
            extra += ', %s' % _count(len(self.deny), 'deny entry',
                                     'deny entries')
        if self.approval is not None and self.approval.required:
            extra += ', approval required (%s listed)' % _count(
                len(self.approval.people), 'person', 'people')
        if self.warnings:
            extra += ', %s' % _count(len(self.warnings), 'warning')
        return '%s: ok, %s mapping, %s, %s%s' % (
            self.source, self.format, _count(len(self.rules), 'rule'),
            _count(len(self.projects), 'project'), extra)


def _count(number, one, many=None):
    """``"1 rule"``, ``"2 rules"``."""
    return '%d %s' % (number, one if number == 1 else many or one + 's')
