"""Rules and deny entries indexed by what a membership can be looked up by.

Why: evaluating every rule against every membership cost 64-103 ms for
10,000 rules x 100 memberships (issue 15), at every login. Each rule is
filed under ONE key that every membership it matches must have (its FQAN,
entitlement, exact group, group subtree or VO, each with its role or "any
role"); a login looks up the few keys of each membership and checks only
the rules found there with ``Match.matches``. A login then costs about
memberships x matching rules, whatever the size of the mapping.

The index only narrows the candidates: every candidate is still checked
with the full ``matches`` of its rule, so the result is the one of the
plain rules x memberships loop (``tests/unit/mapping/test_index.py``
compares them over random mappings and identities).
"""

import functools

from voms_auth.identity import KIND_OIDC
from voms_auth.oidc import entitlements

#: The role part of a key of a rule that names no role: any role matches.
ANY_ROLE = object()


@functools.lru_cache(maxsize=65536)
def ancestors(group):
    """``group`` and every group above it: ``/a/b`` gives ``/a``, ``/a/b``.
    Memoised: looked up several times per membership at every login."""
    parts = group.split('/')
    return tuple('/'.join(parts[:end]) for end in range(2, len(parts) + 1))


def _rule_key(match):
    """The key a rule is filed under, or ``None`` when it can match nothing.

    Tried in the order ``Match.matches`` reads the conditions: an FQAN or
    entitlement decides alone; else the group (exact or subtree), else the
    VO, each with the rule's role.
    """
    if match.fqan is not None:
        return ('fqan', match.fqan.group, match.fqan.role)
    if match.entitlement is not None:
        key = entitlements.entitlement_key(match.entitlement)
        return None if key is None else ('ent', key[0])
    role = ANY_ROLE if match.role is None else match.role
    if match.group is not None:
        return ('tree' if match.subgroups else 'group', match.group, role)
    return ('vo', match.vo, role)


def _membership_keys(membership, token):
    """Every key under which a rule matching ``membership`` may be filed
    (``token``: whether it comes from a token, the only kind entitlement
    rules match)."""
    keys = [('fqan', membership.group, membership.role)]
    entitlement = (entitlements.entitlement_key(membership.source)
                   if token else None)
    if entitlement is not None:
        keys.append(('ent', entitlement[0]))
    for role in (membership.role, ANY_ROLE):
        keys.append(('group', membership.group, role))
        keys.append(('vo', membership.vo, role))
        keys.extend(('tree', above, role)
                    for above in ancestors(membership.group))
    return keys


class RuleIndex:
    """The rules of a mapping by key; positions are rule order."""

    def __init__(self, rules):
        self.rules = tuple(rules)
        self._by_key = {}
        for position, rule in enumerate(self.rules):
            key = _rule_key(rule.match)
            if key is not None:
                self._by_key.setdefault(key, []).append(position)

    def matches(self, identity):
        """``[(rule, (membership, ...)), ...]``: every rule with the
        memberships of ``identity`` it matches, in rule order, each
        rule's memberships in credential order."""
        found = {}
        token = identity.kind == KIND_OIDC
        for membership in identity.memberships:
            for position in self.candidates(membership, token):
                rule = self.rules[position]
                if rule.match.matches(identity, membership):
                    found.setdefault(position, []).append(membership)
        return [(self.rules[p], tuple(found[p])) for p in sorted(found)]

    def candidates(self, membership, token):
        """Positions of the rules that may match ``membership`` (each
        once, unordered); ``token`` as for :func:`_membership_keys`."""
        for key in _membership_keys(membership, token):
            yield from self._by_key.get(key, ())


class DenyIndex:
    """Deny entries by subject, VO and group; the rest always checked.

    Why: a ban list of thousands of subjects must not be walked at every
    login.
    """

    def __init__(self, entries):
        self.entries = tuple(entries)
        self._by_key = {}
        self._always = []
        for position, entry in enumerate(self.entries):
            key = _deny_key(entry.match)
            if key is None:
                self._always.append(position)
            else:
                self._by_key.setdefault(key, []).append(position)

    def first(self, identity):
        """The first entry (file order) matching ``identity``, or
        ``None``."""
        hits = [p for p in set(self._candidates(identity))
                if self.entries[p].match.matches(identity)]
        return self.entries[min(hits)] if hits else None

    def _candidates(self, identity):
        yield from self._always
        yield from self._by_key.get(('subject', identity.subject), ())
        for membership in identity.memberships:
            yield from self._by_key.get(('vo', membership.vo), ())
            for above in ancestors(membership.group):
                yield from self._by_key.get(('group', above), ())


def _deny_key(match):
    """The key of a deny entry, ``None`` for one that names only issuer
    and kind (checked for everybody)."""
    if match.subject is not None:
        return ('subject', match.subject)
    if match.vo is not None:
        return ('vo', match.vo)
    if match.group is not None:
        return ('group', match.group)
    return None
