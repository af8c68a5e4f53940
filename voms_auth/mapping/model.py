"""The parsed mapping: rules, their conditions, and evaluation results.

Everything here is immutable; a :class:`Mapping` is safe to share between
threads. Matching reads nothing but the :class:`~voms_auth.identity.Identity`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Optional, Tuple

import aarc_entitlement

from voms_auth import identity as identity_mod

#: ``Mapping.format`` of a voms-auth mapping document (``"version": 1``).
FORMAT_V1 = 'voms-auth/1'
#: ``Mapping.format`` of a keystone-voms ``voms.json`` read as it was.
FORMAT_LEGACY = 'keystone-voms'


@functools.lru_cache(maxsize=4096)
def _entitlement(text):
    """``(parts, authority)`` of an entitlement, or ``None``.

    ``parts`` are aarc-entitlement's normalised parts without the
    authority: what its ``==`` compares (through their hash; here the
    parts themselves, so no hash collision can make two equal).
    """
    try:
        ent = aarc_entitlement.G069(text)
        parts = tuple(ent.get_part(key) for key in aarc_entitlement.KEYS_ALL
                      if key != aarc_entitlement.KEY.GROUP_AUTHORITY)
    except Exception:  # noqa: BLE001 - unparsable means "does not match"
        return None
    return parts, ent.group_authority


def same_entitlement(wanted, presented):
    """Whether entitlement ``presented`` is the one ``wanted`` names.

    Equality is aarc-entitlement's (the URN namespace is compared without
    case, group and role exactly). The ``#authority`` counts only when
    ``wanted`` states one.
    """
    want, have = _entitlement(wanted), _entitlement(presented)
    if want is None or have is None or want[0] != have[0]:
        return False
    return want[1] is None or want[1] == have[1]


@dataclasses.dataclass(frozen=True)
class Match:
    """The conditions of one rule, all of which must hold.

    Membership conditions (``vo``, ``group``, ``role``, ``fqan``,
    ``entitlement``) must all hold for ONE membership; identity conditions
    (``kind``, ``issuer``) for the person. ``group`` is exact unless
    ``subgroups`` is true. ``fqan`` holds the parsed FQAN (matches VOMS
    memberships with the same group and role); ``entitlement`` the raw
    entitlement (matches OIDC memberships, see :func:`same_entitlement`).
    """

    vo: Optional[str] = None
    group: Optional[str] = None
    subgroups: bool = False
    role: Optional[str] = None
    fqan: Optional[identity_mod.Membership] = None
    entitlement: Optional[str] = None
    kind: Optional[str] = None
    issuer: Optional[str] = None

    def __post_init__(self):
        # The loader reports these readably; this guards direct use.
        if not (self.vo or self.group or self.fqan or self.entitlement):
            raise ValueError('a rule must name a VO, group, FQAN or '
                             'entitlement')
        if self.subgroups and not self.group:
            raise ValueError('subgroups needs a group')

    def matches(self, identity, membership):
        """Whether ``membership`` of ``identity`` satisfies every condition.
        """
        if self.kind is not None and identity.kind != self.kind:
            return False
        if self.issuer is not None and identity.issuer != self.issuer:
            return False
        if self.fqan is not None:
            return (identity.kind == identity_mod.KIND_VOMS
                    and membership.vo == self.fqan.vo
                    and membership.group == self.fqan.group
                    and membership.role == self.fqan.role)
        if self.entitlement is not None:
            return (identity.kind == identity_mod.KIND_OIDC
                    and same_entitlement(self.entitlement,
                                         membership.source))
        if self.vo is not None and membership.vo != self.vo:
            return False
        if self.group is not None and membership.group != self.group:
            if not (self.subgroups
                    and membership.group.startswith(self.group + '/')):
                return False
        if self.role is not None and membership.role != self.role:
            return False
        return True

    def as_dict(self):
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == 'fqan' and value is not None:
                value = value.source
            if value not in (None, False):
                out[field.name] = value
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
    """One rule: ``name`` says where it is (``/rules/3`` or a legacy key)."""

    name: str
    match: Match
    grant: Grant
    description: str = ''


@dataclasses.dataclass(frozen=True)
class RuleMatch:
    """A rule that matched, and the memberships it matched."""

    rule: str
    description: str
    memberships: Tuple[identity_mod.Membership, ...]
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
    """

    grants: Tuple[Grant, ...]
    matched: Tuple[RuleMatch, ...]

    def __bool__(self):
        return bool(self.grants)

    def as_dict(self):
        return {'matched': [m.as_dict() for m in self.matched],
                'grants': [g.as_dict() for g in self.grants]}


def _union(matched):
    merged = {}
    for match in matched:
        grant = match.grant
        key = (grant.project, grant.domain)
        if key in merged:
            old = merged[key]
            grant = Grant(old.project, old.domain, old.roles + grant.roles,
                          old.create or grant.create)
        merged[key] = grant
    return MappingResult(tuple(merged.values()), tuple(matched))


@dataclasses.dataclass(frozen=True)
class Mapping:
    """A loaded mapping file.

    ``format`` is :data:`FORMAT_V1` (every matching rule applies, grants
    are unioned per project) or :data:`FORMAT_LEGACY` (keystone-voms: one
    project, from the first FQAN in credential order that has a key, else
    from the VO of the first FQAN; VOMS identities only).
    """

    source: str
    format: str
    rules: Tuple[Rule, ...]
    description: str = ''

    def evaluate(self, identity) -> MappingResult:
        """The projects and roles ``identity`` gets under this mapping."""
        if self.format == FORMAT_LEGACY:
            return _union(self._first_match(identity))
        matched = []
        for rule in self.rules:
            members = tuple(m for m in identity.memberships
                            if rule.match.matches(identity, m))
            if members:
                matched.append(RuleMatch(rule.name, rule.description,
                                         members, rule.grant, rule.match))
        return _union(matched)

    def _first_match(self, identity):
        if identity.kind != identity_mod.KIND_VOMS:
            return []
        for membership in identity.memberships:
            for rule in self.rules:
                if (rule.match.fqan is not None
                        and rule.match.matches(identity, membership)):
                    return [RuleMatch(rule.name, rule.description,
                                      (membership,), rule.grant,
                                      rule.match)]
        if identity.memberships:
            first = identity.memberships[0]
            for rule in self.rules:
                if rule.match.vo is not None and rule.match.vo == first.vo:
                    return [RuleMatch(rule.name, rule.description,
                                      (first,), rule.grant, rule.match)]
        return []

    @property
    def projects(self):
        """``(project, domain)`` pairs the rules name, in rule order."""
        return tuple(dict.fromkeys((r.grant.project, r.grant.domain)
                                   for r in self.rules))

    def summary(self):
        """One line for ``mapping check``."""
        return ('%s: ok, %s mapping, %d rule%s, %d project%s'
                % (self.source, self.format, len(self.rules),
                   '' if len(self.rules) == 1 else 's',
                   len(self.projects),
                   '' if len(self.projects) == 1 else 's'))
