"""Indexed evaluation: the same results as every rule x every membership,
at the cost of the rules that match.

The property tests compare ``Mapping.evaluate`` with a plain reference
written from the documented semantics; the cost tests count calls (a
profiler hook), never time.
"""

import datetime
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from voms_auth import identity, mapping
from voms_auth.mapping import model
from voms_auth.oidc import entitlements
from voms_auth.voms import fqan

ISSUERS = ('https://i1', 'https://i2')
SUBJECTS = ('s1', 's2')
GROUPS = ('/a', '/a/x', '/a/x/y', '/a/xy', '/b', '/b/x')
ROLES = (None, 'r', 's')
ENTITLEMENTS = (
    'urn:mace:egi.eu:group:a:x:role=r#auth1',
    'urn:mace:egi.eu:group:a:x:role=r#auth2',
    'urn:MACE:egi.eu:group:a:x:role=r',
    'urn:mace:egi.eu:group:a:x',
    'urn:mace:egi.eu:group:a#auth1',
    'urn:mace:other.org:group:a',
    'urn:mace:egi.eu:group:b:x:role=s#auth1',
    'urn:mace:egi.eu:res:thing',
)
WHEN = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)
GA_NAMES = ('nick', 'tag')
GA_VALUES = ('x', 'y')


def _fqan(group, role):
    return fqan.parse_fqan(group + ('/Role=%s' % role if role else ''))


# -- the reference: every rule against every membership -----------------


def _ref_entitlement(wanted, presented):
    want = entitlements.entitlement_key(wanted)
    have = entitlements.entitlement_key(presented)
    if want is None or have is None or want[0] != have[0]:
        return False
    return want[1] is None or want[1] == have[1]


def _ref_rule(match, person, member):
    """``Match.matches`` as documented, from scratch."""
    if match.kind not in (None, person.kind):
        return False
    if match.issuer not in (None, person.issuer):
        return False
    if match.robot is not None and (
            person.attributes.get('robot', False) is not match.robot):
        return False
    if match.generic_attributes is not None:
        # every named attribute, with one of its values, stated by the AC
        # of the membership's VO (VOMS only)
        stated = {(vo, name, value) for vo, name, value in
                  person.attributes.get('vo_generic_attributes', ())}
        for name, values in match.generic_attributes:
            if person.kind != 'voms' or not any(
                    (member.vo, name, v) in stated for v in values):
                return False
    if match.fqan is not None:
        return (person.kind == 'voms' and member.vo == match.fqan.vo
                and (member.group, member.role)
                == (match.fqan.group, match.fqan.role))
    if match.entitlement is not None:
        return (person.kind == 'oidc'
                and _ref_entitlement(match.entitlement, member.source))
    group_ok = (match.group is None or member.group == match.group
                or (match.subgroups
                    and member.group.startswith(match.group + '/')))
    return (match.vo in (None, member.vo) and group_ok
            and match.role in (None, member.role))


def _ref_deny(match, person):
    if (match.kind not in (None, person.kind)
            or match.issuer not in (None, person.issuer)
            or match.subject not in (None, person.subject)):
        return False
    if match.vo is None and match.group is None:
        return True
    return any(match.vo in (None, m.vo)
               and (match.group is None or m.group == match.group
                    or m.group.startswith(match.group + '/'))
               for m in person.memberships)


def reference(loaded, person):
    """What ``loaded.evaluate(person)`` gives, rule by rule."""
    approval = loaded.approval.state(person) if loaded.approval else None
    denied = next((d for d in loaded.deny if _ref_deny(d.match, person)),
                  None)
    matched = []
    for rule in () if denied else loaded.rules:
        members = tuple(m for m in person.memberships
                        if _ref_rule(rule.match, person, m))
        if members:
            matched.append(model.RuleMatch(rule.name, rule.description,
                                           members, rule.grant, rule.match))
    return model._union(matched, denied_by=denied, approval=approval)


def legacy_reference(loaded, person):
    """keystone-voms: first FQAN key by credential order, then the VO of
    the first FQAN."""
    if person.kind != 'voms':
        return model._union([])
    for member in person.memberships:
        for rule in loaded.rules:
            if (rule.match.fqan is not None
                    and _ref_rule(rule.match, person, member)):
                return model._union([model.RuleMatch(
                    rule.name, rule.description, (member,), rule.grant,
                    rule.match)])
    first = person.memberships[:1]
    for rule in loaded.rules if first else ():
        if rule.match.vo is not None and rule.match.vo == first[0].vo:
            return model._union([model.RuleMatch(
                rule.name, rule.description, first, rule.grant,
                rule.match)])
    return model._union([])


# -- random mappings and people ------------------------------------------

_maybe = st.one_of(st.none(), st.sampled_from(('voms', 'oidc')))
_issuer = st.one_of(st.none(), st.sampled_from(ISSUERS))


@st.composite
def matches(draw):
    """Any ``Match`` the model accepts (more combinations than the loader
    lets through)."""
    kind = draw(st.sampled_from(('vo', 'group', 'fqan', 'entitlement')))
    fields = {'kind': draw(_maybe), 'issuer': draw(_issuer),
              'robot': draw(st.sampled_from((None, True, False)))}
    if draw(st.booleans()):
        fields['generic_attributes'] = tuple(sorted(draw(st.dictionaries(
            st.sampled_from(GA_NAMES),
            st.lists(st.sampled_from(GA_VALUES), min_size=1, max_size=2,
                     unique=True).map(tuple),
            min_size=1, max_size=2)).items()))
    if kind == 'fqan':
        fields['fqan'] = _fqan(draw(st.sampled_from(GROUPS)),
                               draw(st.sampled_from(ROLES)))
    elif kind == 'entitlement':
        fields['entitlement'] = draw(st.sampled_from(ENTITLEMENTS))
    else:
        group = draw(st.sampled_from(GROUPS))
        fields['role'] = draw(st.sampled_from(ROLES))
        if kind == 'vo':
            fields['vo'] = group.split('/')[1]
        else:
            fields['group'] = group
            fields['subgroups'] = draw(st.booleans())
            if draw(st.booleans()):
                fields['vo'] = draw(st.sampled_from(('a', 'b')))
    return mapping.Match(**fields)


@st.composite
def rules(draw):
    index = draw(st.integers(0, 10 ** 6))
    return mapping.Rule(
        '/rules/%d' % index, draw(matches()),
        mapping.Grant(draw(st.sampled_from(('p', 'q', 'r'))), 'D',
                      tuple(draw(st.lists(st.sampled_from(('m', 'n')),
                                          min_size=1, max_size=2))),
                      draw(st.booleans())))


@st.composite
def denies(draw):
    fields = {'subject': draw(st.one_of(st.none(),
                                        st.sampled_from(SUBJECTS))),
              'issuer': draw(_issuer), 'kind': draw(_maybe)}
    where = draw(st.sampled_from(('vo', 'group', None)))
    if where == 'vo':
        fields['vo'] = draw(st.sampled_from(('a', 'b')))
    elif where == 'group':
        fields['group'] = draw(st.sampled_from(GROUPS))
    if not (fields['subject'] or fields['issuer'] or where):
        fields['subject'] = SUBJECTS[0]
    return mapping.Deny('/deny/x', mapping.DenyMatch(**fields))


@st.composite
def mappings(draw):
    approval = draw(st.one_of(st.none(), st.builds(
        mapping.Approval, st.booleans(), st.lists(st.builds(
            mapping.Person, st.just('voms'), st.sampled_from(ISSUERS),
            st.sampled_from(SUBJECTS)), max_size=2).map(tuple))))
    return mapping.Mapping(
        source='random', rules=tuple(draw(st.lists(rules(), max_size=12))),
        deny=tuple(draw(st.lists(denies(), max_size=2))), approval=approval)


@st.composite
def people(draw):
    kind = draw(st.sampled_from(('voms', 'oidc')))
    if kind == 'voms':
        member = st.builds(_fqan, st.sampled_from(GROUPS),
                           st.sampled_from(ROLES))
    else:
        member = st.one_of(
            st.sampled_from(ENTITLEMENTS).map(
                entitlements.parse_entitlement).filter(bool),
            st.sampled_from(GROUPS).map(entitlements.parse_wlcg_group))
    attributes = {'robot': draw(st.booleans())} if draw(
        st.booleans()) else {}
    if draw(st.booleans()):
        # Generic Attributes stated by the ACs of some VOs (an OIDC
        # identity never has them; a forged one must match nothing)
        attributes['vo_generic_attributes'] = frozenset(draw(st.lists(
            st.tuples(st.sampled_from(('a', 'b')), st.sampled_from(GA_NAMES),
                      st.sampled_from(GA_VALUES)), max_size=4)))
    return identity.Identity(
        kind, draw(st.sampled_from(ISSUERS)), draw(st.sampled_from(SUBJECTS)),
        'name', draw(st.lists(member, max_size=5)), WHEN,
        attributes=attributes)


def _same(result, expected):
    assert result == expected
    assert result.as_dict() == expected.as_dict()   # membership sources too


@settings(max_examples=400, deadline=None)
@given(mappings(), people())
def test_indexed_evaluation_equals_every_rule_times_every_membership(
        loaded, person):
    _same(loaded.evaluate(person), reference(loaded, person))


@st.composite
def legacy_mappings(draw):
    rules_ = []
    for index, key in enumerate(draw(st.lists(st.one_of(
            st.sampled_from(('a', 'b')),
            st.builds(_fqan, st.sampled_from(GROUPS),
                      st.sampled_from(ROLES))), max_size=8))):
        match = (mapping.Match(vo=key, kind='voms') if isinstance(key, str)
                 else mapping.Match(fqan=key, kind='voms'))
        rules_.append(mapping.Rule('k%d' % index, match,
                                   mapping.Grant('p%d' % index, 'D', ('m',))))
    return mapping.LegacyMapping(source='random', rules=tuple(rules_))


@settings(max_examples=300, deadline=None)
@given(legacy_mappings(), people())
def test_legacy_first_match_is_unchanged(loaded, person):
    _same(loaded.evaluate(person), legacy_reference(loaded, person))


# -- the cost: the rules that match, not the size of the mapping --------


def calls(function, action):
    """How often the Python ``function`` runs during ``action()``."""
    code = function.__code__
    count = [0]

    def profile(frame, event, _arg):
        if event == 'call' and frame.f_code is code:
            count[0] += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count[0]


def _big(rules_, deny=()):
    return mapping.Mapping(source='big', rules=tuple(rules_),
                           deny=tuple(deny))


def _rule(index, **match):
    return mapping.Rule('/rules/%d' % index, mapping.Match(**match),
                        mapping.Grant('p%d' % index, 'D', ('m',)))


def test_rules_checked_are_those_of_the_memberships():
    # 10,000 rules in other VOs and 3 that match one of 100 memberships:
    # the rules x memberships loop made 1,000,000 checks.
    others = [_rule(i, vo='v%d' % i) for i in range(10000)]
    mine = [_rule(10000, vo='a'), _rule(10001, group='/a/x', role='r'),
            _rule(10002, group='/a', subgroups=True)]
    loaded = _big(others + mine)
    person = identity.Identity(
        'voms', ISSUERS[0], 's1', 'n',
        [_fqan('/a/x', 'r')] + [_fqan('/b/g%d' % i, None)
                                for i in range(99)], WHEN)
    checks = calls(model.Match.matches, lambda: loaded.evaluate(person))
    assert checks == 3
    assert {g.project for g in loaded.evaluate(person).grants} == {
        'p10000', 'p10001', 'p10002'}


def test_generic_attribute_and_robot_rules_stay_indexed():
    # 10,000 rules on Generic Attributes in other VOs: only the rules of
    # the person's memberships are checked, the attributes among them.
    others = [_rule(i, vo='v%d' % i, generic_attributes=(
        ('nick', ('x',)),)) for i in range(10000)]
    mine = [_rule(10000, vo='a', generic_attributes=(('nick', ('x',)),)),
            _rule(10001, vo='a', generic_attributes=(('nick', ('y',)),)),
            _rule(10002, group='/a/x', robot=True)]
    loaded = _big(others + mine)
    person = identity.Identity(
        'voms', ISSUERS[0], 's1', 'n',
        [_fqan('/a/x', 'r')] + [_fqan('/b/g%d' % i, None)
                                for i in range(99)], WHEN,
        attributes={'robot': True,
                    'vo_generic_attributes': frozenset(
                        {('a', 'nick', 'x'), ('b', 'nick', 'y')})})
    checks = calls(model.Match.matches, lambda: loaded.evaluate(person))
    assert checks == 3
    assert {g.project for g in loaded.evaluate(person).grants} == {
        'p10000', 'p10002'}


def test_deny_entries_checked_are_those_of_the_person():
    deny = [mapping.Deny('/deny/%d' % i,
                         mapping.DenyMatch(subject='banned%d' % i))
            for i in range(10000)]
    loaded = _big([_rule(0, vo='a')], deny + [
        mapping.Deny('/deny/x', mapping.DenyMatch(subject='s1'))])
    person = identity.Identity('voms', ISSUERS[0], 's1', 'n',
                               [_fqan('/a', None)], WHEN)
    checks = calls(model.DenyMatch.matches, lambda: loaded.evaluate(person))
    assert checks == 1
    assert loaded.evaluate(person).denied_by.name == '/deny/x'


def test_legacy_keys_checked_are_those_of_the_memberships():
    keys = {'/v%d' % i: {'tenant': 'p%d' % i} for i in range(5000)}
    keys.update({'a': {'tenant': 'vo-a'}, '/a/x': {'tenant': 'ax'}})
    loaded = mapping.parse_mapping(keys)
    person = identity.Identity('voms', ISSUERS[0], 's1', 'n',
                               [_fqan('/b', None), _fqan('/a/x', None)],
                               WHEN)
    checks = calls(model.Match.matches, lambda: loaded.evaluate(person))
    assert checks == 1
    assert [g.project for g in loaded.evaluate(person).grants] == ['ax']


def test_no_entitlement_is_parsed_again_beyond_the_parser_memo():
    # More entitlement rules than the parser memoises (4,096): the key of
    # each rule is computed once, at load, never again per login.
    wanted = 'urn:mace:egi.eu:group:a:x'
    loaded = _big([_rule(0, entitlement=wanted)]
                  + [_rule(i, entitlement='urn:mace:egi.eu:group:v%d' % i)
                     for i in range(1, 5000)])
    person = identity.Identity('oidc', ISSUERS[0], 's1', 'n',
                               [entitlements.parse_entitlement(
                                   wanted + '#auth1')],
                               WHEN)
    parse = entitlements._parse_once.__wrapped__
    result = []
    assert calls(parse, lambda: result.append(loaded.evaluate(person))) == 0
    assert [g.project for g in result[0].grants] == ['p0']
