"""Deny entries (matched before any grant) and approval mode."""

import pytest

from tests.unit.mapping import people
from voms_auth import identity, mapping

JANE_DN = '/DC=org/DC=example/CN=Jane Doe'

RULES = [
    {'match': {'vo': 'dteam'}, 'grant': {'project': 'dteam'}},
    {'match': {'vo': 'ops'}, 'grant': {'project': 'ops'}},
]


def _mapping(deny=None, approval=None):
    doc = {'version': 1, 'defaults': {'roles': ['member']}, 'rules': RULES}
    if deny is not None:
        doc['deny'] = deny
    if approval is not None:
        doc['approval'] = approval
    return mapping.parse_mapping(doc, source='m.json')


def _problems(**parts):
    with pytest.raises(mapping.MappingError) as caught:
        _mapping(**parts)
    return caught.value.problems


# deny

@pytest.mark.parametrize('match, person, denied', [
    # subject: exactly the identity's.
    ({'subject': JANE_DN}, people.proxy('/dteam'), True),
    ({'subject': JANE_DN.lower()}, people.proxy('/dteam'), False),
    ({'subject': 'jane@example'}, people.token('/dteam'), True),
    # issuer: exactly (a CA DN, a token issuer URL).
    ({'issuer': people.CA}, people.proxy('/dteam'), True),
    ({'issuer': people.CA}, people.proxy('/dteam', issuer='/CN=Other'),
     False),
    ({'issuer': people.CHECKIN}, people.token('/dteam'), True),
    ({'issuer': people.CHECKIN},
     people.token('/dteam', issuer=people.CHECKIN + '/'), False),
    # vo: any membership in the VO.
    ({'vo': 'ops'}, people.proxy('/dteam', '/ops/sub/Role=x'), True),
    ({'vo': 'ops'}, people.proxy('/dteam', '/opsx'), False),
    # group: the group and the groups below it, nothing else.
    ({'group': '/dteam/bad'}, people.proxy('/dteam', '/dteam/bad'), True),
    ({'group': '/dteam/bad'}, people.proxy('/dteam/bad/sub/Role=r'), True),
    ({'group': '/dteam/bad'}, people.token('/dteam/bad/x'), True),
    ({'group': '/dteam/bad'}, people.proxy('/dteam/badx'), False),
    ({'group': '/dteam/bad'}, people.proxy('/dteam'), False),
    # Every stated condition must hold.
    ({'subject': JANE_DN, 'issuer': '/CN=Other'}, people.proxy('/dteam'),
     False),
    ({'issuer': people.CA, 'vo': 'dteam'}, people.proxy('/dteam'), True),
    ({'issuer': people.CA, 'vo': 'ops'}, people.proxy('/dteam'), False),
    ({'vo': 'dteam', 'kind': 'oidc'}, people.proxy('/dteam'), False),
    ({'vo': 'dteam', 'kind': 'oidc'}, people.token('/dteam'), True),
])
def test_deny_conditions(match, person, denied):
    result = _mapping(deny=[{'match': match}]).evaluate(person)
    assert (result.denied_by is not None) is denied
    assert bool(result.grants) is not denied


def test_deny_is_matched_before_any_grant():
    loaded = _mapping(deny=[
        {'description': 'not this one', 'match': {'vo': 'atlas'}},
        {'description': 'suspended', 'match': {'group': '/ops/suspended'}}])
    result = loaded.evaluate(people.proxy('/dteam', '/ops/suspended'))
    assert result.grants == () and result.matched == ()
    assert not result
    assert result.denied_by == mapping.Deny(
        '/deny/1', mapping.DenyMatch(group='/ops/suspended'), 'suspended')
    assert result.as_dict()['denied_by'] == {
        'name': '/deny/1', 'description': 'suspended',
        'match': {'group': '/ops/suspended'}}
    # Without the denied group the same person gets both projects.
    allowed = loaded.evaluate(people.proxy('/dteam', '/ops'))
    assert allowed.denied_by is None
    assert allowed.as_dict()['denied_by'] is None
    assert [g.project for g in allowed.grants] == ['dteam', 'ops']


def test_deny_comment_is_the_description_when_there_is_none():
    loaded = _mapping(deny=[{'comment': 'why', 'match': {'vo': 'dteam'}}])
    assert loaded.deny[0].description == 'why'


def test_legacy_mappings_have_no_deny_and_no_approval():
    loaded = mapping.parse_mapping({'dteam': {'tenant': 'dteam'}})
    assert isinstance(loaded, mapping.LegacyMapping)
    assert (loaded.deny, loaded.approval) == ((), None)
    result = loaded.evaluate(people.proxy('/dteam'))
    assert (result.denied_by, result.approval) == (None, None)


@pytest.mark.parametrize('deny, expected', [
    ([{'match': {}}],
     'm.json: /deny/0/match: names no subject, issuer, vo or group; a deny '
     'entry must not deny everybody: add one of them'),
    ([{'match': {'kind': 'voms'}}], '/deny/0/match: names no subject'),
    ([{'match': {'vo': 'dteam', 'group': '/dteam/x'}}],
     'm.json: /deny/0/match: give only one of "vo" and "group": a group '
     'path already names its VO'),
    ([{'match': {'vo': 'd/x'}}],
     'm.json: /deny/0/match: vo "d/x" is not a VO name'),
    ([{'match': {'group': 'dteam'}}],
     'm.json: /deny/0/match: group "dteam" is not a group path like '
     '"/vo/subgroup"'),
    ([{'match': {'group': '/dteam/'}}], 'group "/dteam/" is not a group'),
    ([{'match': {'user': 'x'}}], '/deny/0/match: unknown key "user"'),
    ([{'match': {'subject': ''}}], '/deny/0/match/subject: must not be '
                                   'empty'),
    ([{'description': 'x'}], '/deny/0: "match" is a required property'),
    ({'vo': 'x'}, 'm.json: /deny: must be an array, not an object'),
])
def test_bad_deny_entries_are_refused(deny, expected):
    problems = _problems(deny=deny)
    assert len(problems) == 1
    assert problems[0].startswith(expected) or expected in problems[0]


def test_deny_match_refuses_to_deny_everybody():
    with pytest.raises(ValueError):
        mapping.DenyMatch(kind='voms')


def test_deny_alone_makes_a_v1_document_not_a_legacy_one():
    problems = _problems_of({'deny': [{'match': {'vo': 'x'}}]})
    assert problems == ('m.json: (top level): "version" is missing (this '
                        'voms-auth reads "version": 1)',)


def _problems_of(doc):
    with pytest.raises(mapping.MappingError) as caught:
        mapping.parse_mapping(doc, source='m.json')
    return caught.value.problems


# approval

LISTED = {'kind': 'voms', 'issuer': people.CA, 'subject': JANE_DN,
          'comment': 'approved 2024-05-01, ticket 42'}


@pytest.mark.parametrize('person, state', [
    (people.proxy('/dteam'), 'listed'),
    # The same subject from another CA, or as a token, is another person.
    (people.proxy('/dteam', issuer='/CN=Other CA'), 'not-listed'),
    (people.token('/dteam'), 'not-listed'),
])
def test_approval_required(person, state):
    loaded = _mapping(approval={'required': True, 'people': [LISTED]})
    result = loaded.evaluate(person)
    assert result.approval == state
    # The mapping still computes the grants: the Keystone glue decides.
    assert [g.project for g in result.grants] == ['dteam']
    assert result.as_dict()['approval'] == state


def test_approval_constants():
    assert (mapping.APPROVAL_LISTED, mapping.APPROVAL_NOT_LISTED) == (
        'listed', 'not-listed')


def test_no_approval_mode():
    for loaded in (_mapping(), _mapping(approval={'required': False})):
        result = loaded.evaluate(people.proxy('/dteam'))
        assert result.approval is None
        assert result.as_dict()['approval'] is None


def test_approval_with_nobody_listed_approves_nobody():
    loaded = _mapping(approval={'required': True})
    assert loaded.evaluate(people.proxy('/dteam')).approval == 'not-listed'
    assert loaded.summary() == ('m.json: ok, voms-auth/1 mapping, 2 rules, '
                                '2 projects, approval required (0 people '
                                'listed)')


def test_approval_is_shown_for_denied_people_too():
    loaded = _mapping(deny=[{'match': {'subject': JANE_DN}}],
                      approval={'required': True, 'people': [LISTED]})
    result = loaded.evaluate(people.proxy('/dteam'))
    assert (result.denied_by.name, result.approval) == ('/deny/0', 'listed')


def test_listed_people_without_required_warn():
    loaded = _mapping(approval={'required': False, 'people': [LISTED]})
    assert loaded.warnings == (
        'm.json: /approval/required: is false, so the people listed are '
        'not checked and everybody a rule matches gets access; set '
        '"required": true to let only them in',)


@pytest.mark.parametrize('approval, expected', [
    ({'people': []}, 'm.json: /approval: "required" is a required '
                     'property'),
    ({'required': 'yes'}, 'm.json: /approval/required: must be true or '
                          'false, not a string'),
    ({'required': True, 'people': [dict(LISTED, kind='x509')]},
     'm.json: /approval/people/0/kind: must be one of "voms", "oidc", not '
     '"x509"'),
    ({'required': True, 'people': [{'kind': 'voms', 'subject': JANE_DN}]},
     'm.json: /approval/people/0: "issuer" is a required property'),
    ({'required': True, 'people': [LISTED, dict(LISTED, comment='again')]},
     'm.json: /approval/people/1: lists the same person as '
     '/approval/people/0; remove one'),
])
def test_bad_approval_is_refused(approval, expected):
    assert _problems(approval=approval) == (expected,)


def test_identity_kinds_are_the_schema_kinds():
    person = mapping.schema()['$defs']['person']['properties']['kind']
    assert tuple(person['enum']) == identity.KINDS
