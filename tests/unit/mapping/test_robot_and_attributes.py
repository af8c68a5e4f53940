"""Rules on robot certificates (``"robot": true/false``) and on VOMS
Generic Attributes (``"generic_attributes": {name: value or [values]}``):
loading, matching, ``mapping explain``; the keystone-voms format is
unchanged."""

import datetime
import json

import pytest

from voms_auth import cli, identity, mapping
from voms_auth.voms import fqan

WHEN = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)


def person(*fqans, kind='voms', robot=None, ga=()):
    attributes = {'vo_generic_attributes': frozenset(ga)}
    if robot is not None:
        attributes['robot'] = robot
    return identity.Identity(kind, '/CN=CA', '/CN=someone', 'n',
                             [fqan.parse_fqan(f) for f in fqans], WHEN,
                             attributes=attributes)


def load(*matches):
    return mapping.parse_mapping({
        'version': 1, 'defaults': {'roles': ['member']},
        'rules': [{'match': m, 'grant': {'project': 'p%d' % i}}
                  for i, m in enumerate(matches)]})


def projects(loaded, who):
    return sorted(g.project for g in loaded.evaluate(who).grants)


def test_a_generic_attribute_counts_in_the_vo_whose_ac_states_it():
    loaded = load({'vo': 'dteam', 'generic_attributes': {'nickname': 'jdoe'}})
    assert projects(loaded, person('/dteam', ga=[
        ('dteam', 'nickname', 'jdoe')])) == ['p0']
    # atlas's VOMS server stating it grants nothing in dteam
    assert projects(loaded, person('/dteam', '/atlas', ga=[
        ('atlas', 'nickname', 'jdoe')])) == []
    assert projects(loaded, person('/dteam', ga=[
        ('dteam', 'nickname', 'other')])) == []
    assert projects(loaded, person('/dteam')) == []


def test_a_list_of_values_is_any_of_them_and_every_name_must_hold():
    loaded = load({'group': '/dteam', 'generic_attributes': {
        'tier': ['gold', 'silver'], 'site': 'cern'}})
    stated = [('dteam', 'site', 'cern'), ('dteam', 'tier', 'silver')]
    assert projects(loaded, person('/dteam', ga=stated)) == ['p0']
    assert projects(loaded, person('/dteam', ga=stated[1:])) == []


def test_generic_attributes_never_match_a_token():
    loaded = load({'vo': 'dteam', 'generic_attributes': {'n': 'v'}})
    from voms_auth.oidc import entitlements
    token = identity.Identity(
        'oidc', 'https://op', 's', 'n',
        [entitlements.parse_entitlement('urn:mace:egi.eu:group:dteam')],
        WHEN, attributes={'vo_generic_attributes': frozenset(
            {('dteam', 'n', 'v')})})
    assert projects(loaded, token) == []


def test_robot_true_and_false():
    loaded = load({'vo': 'dteam', 'robot': True},
                  {'vo': 'dteam', 'robot': False}, {'vo': 'dteam'})
    assert projects(loaded, person('/dteam', robot=True)) == ['p0', 'p2']
    assert projects(loaded, person('/dteam', robot=False)) == ['p1', 'p2']
    # a credential that says nothing about robots is no robot
    assert projects(loaded, person('/dteam')) == ['p1', 'p2']


@pytest.mark.parametrize('match,problem', [
    ({'vo': 'dteam', 'generic_attributes': {}}, 'should be non-empty'),
    ({'vo': 'dteam', 'generic_attributes': {'n': 3}}, 'not valid under'),
    ({'vo': 'dteam', 'generic_attributes': {'n': []}}, 'not valid under'),
    ({'vo': 'dteam', 'generic_attributes': {'': 'v'}},
     'an attribute name must not be empty'),
    ({'vo': 'dteam', 'generic_attributes': ['n=v']}, 'must be an object'),
    ({'vo': 'dteam', 'robot': 'yes'}, 'must be true or false'),
    ({'entitlement': 'urn:mace:egi.eu:group:dteam',
      'generic_attributes': {'n': 'v'}}, 'matches VOMS credentials only'),
    ({'vo': 'dteam', 'kind': 'oidc', 'generic_attributes': {'n': 'v'}},
     'matches VOMS credentials only'),
    ({'generic_attributes': {'n': 'v'}}, 'names no VO'),
    ({'robot': True}, 'names no VO'),
])
def test_bad_conditions_are_refused_with_their_place(match, problem):
    with pytest.raises(mapping.MappingError) as info:
        load(match)
    text = '\n'.join(info.value.problems)
    assert '/rules/0/match' in text
    assert problem in text


def test_explain_shows_the_conditions_as_written(capsys, tmp_path):
    path = tmp_path / 'mapping.json'
    path.write_text(json.dumps({
        'version': 1, 'defaults': {'roles': ['member']}, 'rules': [
            {'match': {'vo': 'dteam', 'robot': False,
                       'generic_attributes': {'nickname': 'jdoe',
                                              'tier': ['a', 'b']}},
             'grant': {'project': 'nick'}},
            {'match': {'vo': 'dteam', 'robot': True},
             'grant': {'project': 'robots'}}]}))
    code = cli.main(['mapping', 'explain', str(path), '--fqan', '/dteam',
                     '--generic-attribute', 'nickname=jdoe',
                     '--generic-attribute', 'tier=b'])
    out, err = capsys.readouterr()
    assert code == 0, err
    shown = json.loads(out)
    assert shown['identity']['robot'] is False
    assert shown['identity']['generic_attributes'] == [
        {'vo': 'dteam', 'name': 'nickname', 'value': 'jdoe'},
        {'vo': 'dteam', 'name': 'tier', 'value': 'b'}]
    assert shown['matched'][0]['match'] == {
        'vo': 'dteam', 'robot': False,
        'generic_attributes': {'nickname': 'jdoe', 'tier': ['a', 'b']}}
    assert [g['project'] for g in shown['grants']] == ['nick']
    code = cli.main(['mapping', 'explain', str(path), '--fqan', '/dteam',
                     '--robot'])
    shown = json.loads(capsys.readouterr()[0])
    assert [g['project'] for g in shown['grants']] == ['robots']


def test_explain_refuses_a_malformed_generic_attribute(capsys, tmp_path):
    path = tmp_path / 'mapping.json'
    path.write_text(json.dumps({'version': 1, 'rules': [
        {'match': {'vo': 'dteam'},
         'grant': {'project': 'p', 'roles': ['member']}}]}))
    code = cli.main(['mapping', 'explain', str(path), '--fqan', '/dteam',
                     '--generic-attribute', 'novalue'])
    assert code == 2
    assert 'is not NAME=VALUE' in capsys.readouterr()[1]


def test_keystone_voms_files_ignore_robots_and_attributes():
    legacy = mapping.parse_mapping({'dteam': {'tenant': 'dteam'}})
    for who in (person('/dteam', robot=True,
                       ga=[('dteam', 'nickname', 'x')]),
                person('/dteam', robot=False), person('/dteam')):
        assert projects(legacy, who) == ['dteam']
