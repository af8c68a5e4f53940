"""Bad mapping files: each refused with a readable reason naming the place.
"""

import json

import jsonschema
import pytest

from voms_auth import errors, mapping
from voms_auth.mapping import loader


def _doc(*rules, **top):
    doc = {'version': 1, 'defaults': {'roles': ['member']},
           'rules': list(rules) or [
               {'match': {'vo': 'dteam'}, 'grant': {'project': 'dteam'}}]}
    doc.update(top)
    return doc


def _rule(match=None, **grant):
    return {'match': {'vo': 'dteam'} if match is None else match,
            'grant': dict({'project': 'dteam'}, **grant)}


def _problems(doc):
    text = doc if isinstance(doc, (str, bytes)) else json.dumps(doc)
    with pytest.raises(mapping.MappingError) as caught:
        mapping.parse_mapping(text, source='site.json')
    problems = caught.value.problems
    assert problems, 'a MappingError must list its problems'
    for problem in problems:
        assert problem.startswith('site.json: '), problem
    return problems


CASES = [
    # JSON syntax, with line and column.
    ('{"version": 1,\n  "rules": [}', 'line 2 column 13: invalid JSON'),
    ('', 'line 1 column 1: invalid JSON'),
    (b'{"version": 1, "rules": "\xff"}', 'not UTF-8 text'),
    ('{"version": 1, "version": 1, "rules": []}',
     'key "version" appears twice'),
    ('{"version": 1, "defaults": {"roles": ["member"]}, "rules": [{"match":'
     ' {"vo": "dteam", "vo": "ops"}, "grant": {"project": "p"}}]}',
     'key "vo" appears twice'),
    ('{"version": NaN, "rules": []}', 'NaN is not JSON'),
    ('[1]', 'the top level must be a JSON object, not an array'),
    ('"x"', 'the top level must be a JSON object, not a string'),
    # Version.
    ({'rules': [_rule()]}, '"version" is missing'),
    ({'defaults': {}}, '"version" is missing'),
    (_doc(version=2), '/version: unsupported mapping version 2'),
    (_doc(version='1'), 'unsupported mapping version "1"'),
    (_doc(version=True), 'unsupported mapping version true'),
    (_doc(version=1.0), 'unsupported mapping version 1.0'),
    # Unknown keys, at every level.
    (_doc(rule=[]), '(top level): unknown key "rule"'),
    (_doc(defaults={'role': ['member']}), '/defaults: unknown key "role"'),
    (_doc({'match': {'vo': 'dteam'}, 'grant': {'project': 'p'},
           'priority': 1}), '/rules/0: unknown key "priority"'),
    (_doc(_rule({'vo': 'dteam', 'grp': '/dteam/x'})),
     '/rules/0/match: unknown key "grp"'),
    (_doc(_rule(tenant='x')), '/rules/0/grant: unknown key "tenant"'),
    # Missing and wrongly typed values.
    (_doc(rules=None), '/rules: must be an array, not null'),
    (_doc(rules={}), '/rules: must be an array, not an object'),
    (_doc(rules=[]), '/rules: must not be empty'),
    (_doc(rules=[3]), '/rules/0: must be an object, not a number'),
    (_doc({'grant': {'project': 'p'}}), '/rules/0: "match" is a required'),
    (_doc({'match': {'vo': 'd'}}), '/rules/0: "grant" is a required'),
    (_doc({'match': {'vo': 'd'}, 'grant': {}}),
     '/rules/0/grant: "project" is a required'),
    (_doc(_rule(project=5)), '/rules/0/grant/project: must be a string'),
    (_doc(_rule(project='')), '/rules/0/grant/project: must not be empty'),
    (_doc(_rule(project='p' * 65)),
     '/rules/0/grant/project: is longer than 64 characters'),
    (_doc(_rule(roles='admin')), '/rules/0/grant/roles: must be an array'),
    (_doc(_rule(roles=[])), '/rules/0/grant/roles: must not be empty'),
    (_doc(_rule(roles=[''])), '/rules/0/grant/roles/0: must not be empty'),
    (_doc(_rule(roles=['a', 'a'])),
     '/rules/0/grant/roles: lists an item twice'),
    (_doc(_rule(roles=['a b'])), 'role name "a b" contains'),
    (_doc(_rule(create='yes')),
     '/rules/0/grant/create: must be true or false, not a string'),
    (_doc(_rule(domain='')), '/rules/0/grant/domain: must not be empty'),
    (_doc(defaults={'roles': []}), '/defaults/roles: must not be empty'),
    (_doc(defaults=[]), '/defaults: must be an object, not an array'),
    (_doc(_rule({'vo': 'dteam', 'kind': 'x509'})),
     '/rules/0/match/kind: must be one of "voms", "oidc", not "x509"'),
    (_doc(_rule({'vo': ''})), '/rules/0/match/vo: must not be empty'),
    (_doc(_rule({'group': 7})), '/rules/0/match/group: must be a string'),
    (_doc(_rule({'group': '/d', 'subgroups': 'yes'})),
     '/rules/0/match/subgroups: must be true or false'),
    (_doc(description=3), '/description: must be a string'),
    # Rules that would match too much, or nothing.
    (_doc(_rule({})), '/rules/0/match: names no VO, group, fqan or '
     'entitlement'),
    (_doc(_rule({'kind': 'oidc', 'issuer': 'https://op'})),
     'a rule must not match everybody'),
    (_doc(_rule({'role': 'admin'})), '"role" needs "vo" or "group"'),
    (_doc(_rule({'vo': 'dteam', 'group': '/dteam/x'})),
     'give only one of "vo", "group", "fqan", "entitlement" (found "group",'
     ' "vo")'),
    (_doc(_rule({'fqan': '/dteam', 'role': 'admin'})),
     '"role" needs "vo" or "group"'),
    (_doc(_rule({'vo': 'dteam', 'subgroups': True})),
     '"subgroups" needs "group"'),
    (_doc(_rule({'vo': 'd/x'})), 'vo "d/x" is not a VO name'),
    (_doc(_rule({'vo': 'dteam '})), 'vo "dteam " is not a VO name'),
    (_doc(_rule({'group': 'dteam/x'})), 'group "dteam/x" is not a group path'),
    (_doc(_rule({'group': '/dteam/'})), 'group "/dteam/" is not a group path'),
    (_doc(_rule({'group': '/dteam//x'})), 'is not a group path'),
    (_doc(_rule({'group': '/dteam/Role=VM-Manager'})),
     'for a role use "role"'),
    (_doc(_rule({'vo': 'dteam', 'role': 'NULL'})),
     'role "NULL" means "no role"'),
    (_doc(_rule({'vo': 'dteam', 'role': 'Role=admin'})),
     'role "Role=admin" contains'),
    (_doc(_rule({'fqan': 'dteam/Role=x'})), 'fqan: FQAN \'dteam/Role=x\' '
     'does not start with "/"'),
    (_doc(_rule({'fqan': '/dteam//x'})), 'empty or malformed group path'),
    (_doc(_rule({'entitlement': 'urn:mace:egi.eu:res:dteam'})),
     'is not an AARC group entitlement'),
    (_doc(_rule({'entitlement': 'dteam'})), 'is not an AARC group'),
    (_doc(_rule({'fqan': '/dteam', 'kind': 'oidc'})),
     '"fqan" matches VOMS credentials only'),
    (_doc(_rule({'entitlement': 'urn:mace:egi.eu:group:dteam',
                 'kind': 'voms'})),
     '"entitlement" matches OIDC credentials only'),
    # Roles must come from somewhere.
    (_doc(_rule(), defaults={}),
     '/rules/0/grant: grants no roles: give "roles" here or in "defaults"'),
    # Rules naming one project must agree on it.
    (_doc(_rule(create=True), _rule({'vo': 'ops'}, create=False)),
     'project "dteam" has contradicting "create" settings: true in '
     '/rules/0, false in /rules/1'),
    (_doc(_rule(domain='a'), _rule({'vo': 'ops'}, domain='b')),
     'project "dteam" is put in different domains ("a" by /rules/0; "b" by '
     '/rules/1)'),
    (_doc(_rule(domain='Default'), _rule({'vo': 'ops'})),
     None),  # same domain spelled out and defaulted: fine
]


@pytest.mark.parametrize('doc, expected', CASES)
def test_bad_input_is_refused_with_the_reason(doc, expected):
    if expected is None:
        mapping.parse_mapping(doc)
        return
    problems = _problems(doc)
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_not_just_the_first():
    doc = _doc(
        _rule({'grp': '/dteam'}),                       # schema
        _rule({'group': 'dteam'}),                      # group format
        _rule({'vo': 'dteam', 'role': 'NULL'}),         # role NULL
        _rule({'fqan': 'x'}, project='q'),              # FQAN
        _rule({'vo': 'ops'}, project='r', create=True),
        _rule({'vo': 'cms'}, project='r', create=False),  # contradiction
        unknown=1)                                      # top level
    problems = _problems(doc)
    assert len(problems) == 6, problems
    for place in ('(top level)', '/rules/0/match', '/rules/1/match',
                  '/rules/2/match', '/rules/3/match', 'project "r"'):
        assert any(place in p for p in problems), (place, problems)


def test_mapping_error_is_a_configuration_error():
    with pytest.raises(errors.ConfigurationError):
        mapping.parse_mapping('{')


def test_missing_file(tmp_path):
    with pytest.raises(mapping.MappingError) as caught:
        mapping.load_mapping(tmp_path / 'nope.json')
    assert caught.value.problems == (
        '%s: cannot read the mapping file: No such file or directory'
        % (tmp_path / 'nope.json'),)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(mapping.MappingError, match='cannot read the mapping'):
        mapping.load_mapping(tmp_path)


def test_syntax_error_names_file_line_and_column(tmp_path):
    path = tmp_path / 'mapping.json'
    path.write_text('{\n  "version": 1,\n  "rules": [\n    {"match": }\n'
                    '  ]\n}\n')
    with pytest.raises(mapping.MappingError) as caught:
        mapping.load_mapping(path)
    assert caught.value.problems == (
        '%s: line 4 column 15: invalid JSON: Expecting value' % path,)


def test_shipped_schema_is_a_valid_json_schema():
    schema = mapping.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema['properties']['version'] == {'const': loader.VERSION}


@pytest.mark.parametrize('role', ['a b', 'x/y', 'Role=x'])
def test_default_roles_are_checked_like_rule_roles(role):
    problems = _problems(_doc(defaults={'roles': [role]}))
    assert problems == ('site.json: /defaults/roles: role name "%s" '
                        'contains "/", "=" or white space' % role,)
