"""What people get: the rules, their matching, and the union per project."""

import pathlib

import pytest

from tests.unit.mapping import people
from voms_auth import mapping

SAMPLE = pathlib.Path(__file__).resolve().parents[3] / 'etc' / \
    'mapping.json.sample'

ENT = 'urn:mace:egi.eu:group:dteam:ibergrid:role=vm_operator#aai.egi.eu'

M = 'member'
D = 'Default'


@pytest.fixture(scope='module')
def sample():
    return mapping.load_mapping(SAMPLE)


@pytest.mark.parametrize('person, expected', [
    # VO-wide project: any group, any role of dteam.
    (people.proxy('/dteam/Role=NULL/Capability=NULL'),
     {'dteam': (D, (M,), False)}),
    (people.proxy('/dteam/other/Role=NULL/Capability=NULL'),
     {'dteam': (D, (M,), False)}),
    # Per-group project (created on demand), plus the VO-wide one.
    (people.proxy('/dteam/Role=NULL/Capability=NULL',
                  '/dteam/ibergrid/Role=NULL/Capability=NULL'),
     {'dteam': (D, (M,), False), 'dteam-ibergrid': (D, (M,), True)}),
    # Role-based management: roles of two rules add up on one project.
    (people.proxy('/dteam/Role=VM-Manager/Capability=NULL',
                  '/dteam/Role=NULL/Capability=NULL',
                  '/dteam/ibergrid/Role=NULL/Capability=NULL'),
     {'dteam': (D, (M,), False),
      'dteam-ibergrid': (D, ('manager', M), True)}),
    # The role in a subgroup is not the role in /dteam.
    (people.proxy('/dteam/ibergrid/Role=VM-Manager/Capability=NULL'),
     {'dteam': (D, (M,), False), 'dteam-ibergrid': (D, (M,), True)}),
    # The same person with an EGI Check-in token.
    (people.token(ENT),
     {'dteam': (D, (M,), False),
      'dteam-ibergrid': (D, ('manager', M), True)}),
    # ... from another issuer: the issuer-bound manager rule does not
    # apply.
    (people.token(ENT, issuer=people.OTHER_OP),
     {'dteam': (D, (M,), False), 'dteam-ibergrid': (D, (M,), True)}),
    # WLCG-style groups: the subtree opt-in.
    (people.token('/cms/uscms'), {'cms-us': (D, (M,), False)}),
    (people.token('/cms/uscms/t2/fnal'), {'cms-us': (D, (M,), False)}),
    (people.proxy('/cms/uscms/t2/Role=NULL/Capability=NULL'),
     {'cms-us': (D, (M,), False)}),
    (people.token('/cms/uscmsx'), {}),
    (people.token('/cms'), {}),
    # A role limited to proxies.
    (people.proxy('/cms/Role=production/Capability=NULL'),
     {'cms-production': (D, (M,), False)}),
    (people.token('/cms/Role=production'), {}),
    # A raw FQAN: exactly /ops without a role, from a proxy.
    (people.proxy('/ops'), {'ops': (D, ('reader',), False)}),
    (people.proxy('/ops/Role=NULL/Capability=NULL'),
     {'ops': (D, ('reader',), False)}),
    (people.proxy('/ops/Role=admin/Capability=NULL'), {}),
    (people.proxy('/ops/sub/Role=NULL/Capability=NULL'), {}),
    (people.token('/ops'), {}),
    # Nobody else.
    (people.proxy('/dteam2/Role=NULL/Capability=NULL'), {}),
    (people.proxy('/atlas/Role=NULL/Capability=NULL'), {}),
    (people.proxy(), {}),
])
def test_sample_mapping(sample, person, expected):
    assert people.grants(sample.evaluate(person)) == expected


def _one_rule(match, **grant):
    doc = {'version': 1, 'defaults': {'roles': ['member']},
           'rules': [{'match': match, 'grant': dict(project='p', **grant)}]}
    return mapping.parse_mapping(doc)


@pytest.mark.parametrize('match, person, matches', [
    # group: exact, never a prefix (string or path).
    ({'group': '/dteam/ibergrid'},
     people.proxy('/dteam/ibergrid/Role=NULL'), True),
    ({'group': '/dteam/ibergrid'},
     people.proxy('/dteam/ibergrid2/Role=NULL'), False),
    ({'group': '/dteam/ibergrid'},
     people.proxy('/dteam/ibergrid/sub/Role=NULL'), False),
    ({'group': '/dteam/ibergrid'}, people.proxy('/dteam/Role=NULL'), False),
    ({'group': '/dteam'}, people.proxy('/dteam/ibergrid'), False),
    # subgroups: the group and the paths below it, nothing else.
    ({'group': '/dteam', 'subgroups': True}, people.proxy('/dteam/a/b'),
     True),
    ({'group': '/dteam', 'subgroups': True}, people.proxy('/dteamx/a'),
     False),
    ({'group': '/dteam/a', 'subgroups': True}, people.proxy('/dteam/ab'),
     False),
    # vo: exact.
    ({'vo': 'dteam'}, people.proxy('/dteam/x/Role=y'), True),
    ({'vo': 'dteam'}, people.proxy('/dteam2'), False),
    ({'vo': 'dteam'}, people.proxy('/dtea'), False),
    # role: exact, and on the SAME membership as the group.
    ({'group': '/dteam/a', 'role': 'VM-Manager'},
     people.proxy('/dteam/a/Role=VM-Manager'), True),
    ({'group': '/dteam/a', 'role': 'VM-Manager'},
     people.proxy('/dteam/a', '/dteam/Role=VM-Manager'), False),
    ({'group': '/dteam/a', 'role': 'VM-Manager'},
     people.proxy('/dteam/a/Role=vm-manager'), False),
    ({'vo': 'dteam', 'role': 'VM-Manager'},
     people.proxy('/ops/Role=VM-Manager', '/dteam'), False),
    ({'vo': 'dteam', 'role': 'VM-Manager'},
     people.proxy('/dteam/sub/Role=VM-Manager'), True),
    # kind and issuer.
    ({'vo': 'dteam', 'kind': 'voms'}, people.token('/dteam'), False),
    ({'vo': 'dteam', 'kind': 'oidc'}, people.token('/dteam'), True),
    ({'vo': 'dteam', 'kind': 'oidc'}, people.proxy('/dteam'), False),
    ({'vo': 'dteam', 'issuer': people.CHECKIN},
     people.token('/dteam', issuer=people.OTHER_OP), False),
    ({'vo': 'dteam', 'issuer': people.CHECKIN},
     people.token('/dteam', issuer=people.CHECKIN + '/'), False),
    ({'vo': 'dteam', 'issuer': people.CHECKIN}, people.token('/dteam'),
     True),
    ({'vo': 'dteam', 'issuer': people.CA}, people.proxy('/dteam'), True),
    ({'vo': 'dteam', 'issuer': people.CA},
     people.proxy('/dteam', issuer='/CN=Other CA'), False),
    # fqan: same group and role, short or long form; proxies only.
    ({'fqan': '/dteam/Role=VM-Manager'},
     people.proxy('/dteam/Role=VM-Manager/Capability=NULL'), True),
    ({'fqan': '/dteam/Role=VM-Manager/Capability=NULL'},
     people.proxy('/dteam/Role=VM-Manager'), True),
    ({'fqan': '/dteam'}, people.proxy('/dteam/Role=VM-Manager'), False),
    ({'fqan': '/dteam/Role=VM-Manager'}, people.proxy('/dteam'), False),
    ({'fqan': '/dteam/Role=VM-Manager'},
     people.token('/dteam/Role=VM-Manager'), False),
    # entitlement: aarc-entitlement equality; tokens only; the authority
    # counts when the rule states one.
    ({'entitlement': ENT}, people.token(ENT), True),
    ({'entitlement': ENT.replace('urn:mace', 'URN:MACE')}, people.token(ENT),
     True),
    ({'entitlement': ENT}, people.token(ENT.replace('#aai.egi.eu', '#evil')),
     False),
    ({'entitlement': ENT}, people.token(ENT.split('#')[0]), False),
    ({'entitlement': ENT.split('#')[0]}, people.token(ENT), True),
    ({'entitlement': ENT},
     people.token(ENT.replace('egi.eu:group', 'evil.org:group')), False),
    ({'entitlement': ENT},
     people.token(ENT.replace('vm_operator', 'member')), False),
    ({'entitlement': ENT},
     people.token(ENT.replace(':role=vm_operator', '')), False),
    ({'entitlement': ENT},
     people.token(ENT.replace(':ibergrid', ':ibergrid:sub')), False),
    ({'entitlement': ENT}, people.proxy('/dteam/ibergrid/Role=vm_operator'),
     False),
])
def test_conditions(match, person, matches):
    result = _one_rule(match).evaluate(person)
    assert bool(result) is matches
    assert [g.project for g in result.grants] == (['p'] if matches else [])


def test_union_per_project_and_domain():
    doc = {'version': 1, 'defaults': {'roles': ['member'], 'domain': 'ego'},
           'rules': [
               {'match': {'vo': 'dteam'}, 'grant': {'project': 'a'}},
               {'match': {'vo': 'dteam'},
                'grant': {'project': 'a', 'roles': ['reader', 'member']}},
               {'match': {'group': '/dteam/x'},
                'grant': {'project': 'b', 'roles': ['manager'],
                          'domain': 'other', 'create': True}},
               {'match': {'vo': 'ops'}, 'grant': {'project': 'c'}},
           ]}
    loaded = mapping.parse_mapping(doc, default_domain='unused')
    result = loaded.evaluate(people.proxy('/dteam', '/dteam/x'))
    assert result.grants == (
        mapping.Grant('a', 'ego', ('member', 'reader'), False),
        mapping.Grant('b', 'other', ('manager',), True))
    assert [m.rule for m in result.matched] == ['/rules/0', '/rules/1',
                                                '/rules/2']
    assert [m.source for m in result.matched[0].memberships] == [
        '/dteam', '/dteam/x']
    assert result.as_dict()['grants'][0] == {
        'project': 'a', 'domain': 'ego', 'roles': ['member', 'reader'],
        'create': False}


def test_default_domain_comes_from_the_caller_when_the_file_names_none():
    doc = {'version': 1, 'rules': [
        {'match': {'vo': 'dteam'},
         'grant': {'project': 'a', 'roles': ['member']}}]}
    loaded = mapping.parse_mapping(doc, default_domain='site')
    assert loaded.evaluate(people.proxy('/dteam')).grants[0].domain == 'site'


def test_create_is_a_property_of_the_project():
    # Stated once, it holds for every rule naming the project.
    doc = {'version': 1, 'defaults': {'roles': ['member']}, 'rules': [
        {'match': {'vo': 'dteam'}, 'grant': {'project': 'a'}},
        {'match': {'group': '/dteam/x'},
         'grant': {'project': 'a', 'create': True}}]}
    loaded = mapping.parse_mapping(doc)
    assert loaded.evaluate(people.proxy('/dteam')).grants[0].create is True


def test_description_and_explain_output():
    doc = {'version': 1, 'defaults': {'roles': ['member']}, 'rules': [
        {'description': 'all of dteam', 'match': {'vo': 'dteam'},
         'grant': {'project': 'a'}}]}
    result = mapping.parse_mapping(doc).evaluate(
        people.proxy('/dteam/Role=NULL/Capability=NULL'))
    assert result.as_dict()['matched'] == [{
        'rule': '/rules/0', 'description': 'all of dteam',
        'match': {'vo': 'dteam'},
        'memberships': [{'vo': 'dteam', 'group': '/dteam', 'role': None,
                         'source': '/dteam/Role=NULL/Capability=NULL'}],
        'grant': {'project': 'a', 'domain': 'Default', 'roles': ['member'],
                  'create': False}}]


def test_results_and_mappings_are_immutable(sample):
    result = sample.evaluate(people.proxy('/dteam'))
    with pytest.raises(AttributeError):
        result.grants = ()
    with pytest.raises(AttributeError):
        sample.rules = ()
    with pytest.raises(AttributeError):
        result.grants[0].roles = ('admin',)


@pytest.mark.parametrize('kwargs', [
    {}, {'subgroups': True, 'vo': 'dteam'}, {'kind': 'voms'},
    {'issuer': 'x'}, {'role': 'admin'}])
def test_match_refuses_to_match_everybody(kwargs):
    with pytest.raises(ValueError):
        mapping.Match(**kwargs)


def test_explain_shows_the_conditions_as_written():
    doc = {'version': 1, 'defaults': {'roles': ['member']}, 'rules': [
        {'match': {'group': '/cms/uscms', 'subgroups': True, 'role': 'p',
                   'kind': 'voms', 'issuer': people.CA},
         'grant': {'project': 'a'}},
        {'match': {'fqan': '/cms/Role=p/Capability=NULL'},
         'grant': {'project': 'a'}}]}
    result = mapping.parse_mapping(doc).evaluate(
        people.proxy('/cms/uscms/t2/Role=p', '/cms/Role=p'))
    assert [m['match'] for m in result.as_dict()['matched']] == [
        {'group': '/cms/uscms', 'subgroups': True, 'role': 'p',
         'kind': 'voms', 'issuer': people.CA},
        {'fqan': '/cms/Role=p/Capability=NULL'}]
