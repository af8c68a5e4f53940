"""keystone-voms ``voms.json``: first-match semantics, and conversion."""

import json

import pytest

from tests.unit.mapping import people
from voms_auth import mapping

OLD = {
    'dteam': {'tenant': 'dteam'},
    '/dteam': {'tenant': 'dteam-plain'},
    '/dteam/NGI_IBERGRID': {'tenant': 'dteam-ibergrid'},
    '/dteam/Role=VM-Manager': {'tenant': 'dteam-admin'},
    'ops': {'tenant': 'ops'},
}

LONG = '/Role=NULL/Capability=NULL'


@pytest.fixture(scope='module')
def old():
    return mapping.parse_mapping(json.dumps(OLD), source='voms.json',
                                 default_domain='site', legacy_role='_member_')


def test_recognised_as_keystone_voms(old):
    assert old.format == mapping.FORMAT_LEGACY
    assert old.summary() == ('voms.json: ok, keystone-voms mapping, 5 rules, '
                             '5 projects')


@pytest.mark.parametrize('fqans, project', [
    # The first FQAN of the credential that has a key wins ...
    (['/dteam/Role=VM-Manager/Capability=NULL', '/dteam' + LONG],
     'dteam-admin'),
    (['/dteam' + LONG, '/dteam/Role=VM-Manager/Capability=NULL'],
     'dteam-plain'),
    (['/dteam/NGI_IBERGRID' + LONG, '/dteam' + LONG], 'dteam-ibergrid'),
    # ... skipping FQANs without a key ...
    (['/dteam/other' + LONG, '/dteam/NGI_IBERGRID' + LONG],
     'dteam-ibergrid'),
    (['/dteam/other' + LONG, '/dteam/Role=VM-Manager/Capability=NULL'],
     'dteam-admin'),
    # ... short and long forms are the same FQAN ...
    (['/dteam/NGI_IBERGRID'], 'dteam-ibergrid'),
    (['/dteam/Role=VM-Manager'], 'dteam-admin'),
    # ... else the VO of the credential (of its first FQAN) ...
    (['/dteam/other' + LONG], 'dteam'),
    (['/dteam/NGI_IBERGRID/sub' + LONG], 'dteam'),
    (['/dteam/NGI_IBERGRID/Role=VM-Manager/Capability=NULL'], 'dteam'),
    (['/ops/Role=lcgadmin/Capability=NULL'], 'ops'),
    (['/ops' + LONG, '/dteam' + LONG], 'dteam-plain'),
    # ... else nothing.
    (['/atlas' + LONG, '/dteam/other' + LONG], None),
    (['/dteam2' + LONG], None),
    ([], None),
])
def test_first_match(old, fqans, project):
    result = old.evaluate(people.proxy(*fqans))
    if project is None:
        assert result.grants == ()
        assert result.matched == ()
    else:
        assert result.grants == (
            mapping.Grant(project, 'site', ('_member_',), False),)
        assert len(result.matched) == 1


def test_tokens_are_not_mapped_by_a_keystone_voms_file(old):
    assert old.evaluate(people.token('/dteam')).grants == ()
    assert old.evaluate(people.token(
        'urn:mace:egi.eu:group:dteam#aai.egi.eu')).grants == ()


@pytest.mark.parametrize('doc, expected', [
    ({}, 'keystone-voms mapping without keys'),
    ({'dteam': 'dteam'}, 'key "dteam": the value must be an object'),
    ({'dteam': {}}, 'key "dteam": "tenant" must be a project name'),
    ({'dteam': {'tenant': ''}}, '"tenant" must be a project name'),
    ({'dteam': {'tenant': 5}}, '"tenant" must be a project name'),
    ({'dteam': {'tenant': 'x' * 65}}, '"tenant" must be a project name'),
    ({'dteam': {'tenant': 'x', 'tennant': 'y'}},
     'key "dteam": unknown key "tennant"'),
    ({'dt eam': {'tenant': 'x'}}, 'is neither a VO name nor an FQAN'),
    ({'': {'tenant': 'x'}}, 'is neither a VO name nor an FQAN'),
    ({'/dteam//x': {'tenant': 'x'}}, 'empty or malformed group path'),
    ({'/dteam/NGI': {'tenant': 'x'},
      '/dteam/NGI/Role=NULL/Capability=NULL': {'tenant': 'y'}},
     'names the same FQAN as key "/dteam/NGI"'),
])
def test_bad_legacy_files(doc, expected):
    with pytest.raises(mapping.MappingError) as caught:
        mapping.parse_mapping(json.dumps(doc), source='voms.json')
    assert any(expected in p for p in caught.value.problems), \
        caught.value.problems


def test_duplicate_keys_in_a_legacy_file_are_refused():
    text = '{"dteam": {"tenant": "a"}, "dteam": {"tenant": "b"}}'
    with pytest.raises(mapping.MappingError, match='"dteam" appears twice'):
        mapping.parse_mapping(text)


def test_convert_writes_a_valid_v1_mapping(old):
    document, notes = mapping.convert_legacy(old, role='member')
    new = mapping.parse_mapping(document, default_domain='site')
    assert new.format == mapping.FORMAT_V1
    assert document['defaults'] == {'roles': ['member']}
    assert [r['match'] for r in document['rules']] == [
        {'vo': 'dteam', 'kind': 'voms'},
        {'fqan': '/dteam', 'kind': 'voms'},
        {'fqan': '/dteam/NGI_IBERGRID', 'kind': 'voms'},
        {'fqan': '/dteam/Role=VM-Manager', 'kind': 'voms'},
        {'vo': 'ops', 'kind': 'voms'}]
    assert [r['grant'] for r in document['rules']] == [
        {'project': v['tenant']} for v in OLD.values()]
    # dteam has four keys a person can match at once; ops only one.
    assert len(notes) == 1 and notes[0].startswith('VO "dteam"')


@pytest.mark.parametrize('fqans', [
    ['/dteam/other' + LONG], ['/ops/Role=lcgadmin/Capability=NULL'],
    ['/atlas' + LONG], ['/dteam/NGI_IBERGRID/sub' + LONG]])
def test_converted_mapping_agrees_where_one_key_matches(old, fqans):
    document, _ = mapping.convert_legacy(old, role='_member_')
    new = mapping.parse_mapping(document, default_domain='site')
    person = people.proxy(*fqans)
    assert new.evaluate(person).grants == old.evaluate(person).grants


def test_converted_mapping_gives_the_union_where_keys_add_up(old):
    document, _ = mapping.convert_legacy(old, role='_member_',
                                         domain='site')
    new = mapping.parse_mapping(document)
    person = people.proxy('/dteam/Role=VM-Manager/Capability=NULL',
                          '/dteam' + LONG)
    assert [g.project for g in old.evaluate(person).grants] == [
        'dteam-admin']
    assert [g.project for g in new.evaluate(person).grants] == [
        'dteam', 'dteam-plain', 'dteam-admin']


def test_converting_a_v1_mapping_is_refused():
    new = mapping.parse_mapping({'version': 1, 'rules': [
        {'match': {'vo': 'd'}, 'grant': {'project': 'p',
                                         'roles': ['member']}}]})
    with pytest.raises(mapping.MappingError, match='already a voms-auth'):
        mapping.convert_legacy(new, role='member')


@pytest.mark.parametrize('role', ['', 'a b', 'x/y'])
def test_the_role_for_a_legacy_file_is_checked(role):
    with pytest.raises(mapping.MappingError, match='is not a role name'):
        mapping.parse_mapping('{"dteam": {"tenant": "dteam"}}',
                              legacy_role=role)
