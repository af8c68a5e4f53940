"""No accidental cloud admin; warnings about privileged rules that every
trusted issuer can reach."""

import json
import logging
import os

import pytest

from tests.unit.mapping import people
from voms_auth import mapping

WHY = ("under Keystone's default policies a project-scoped admin is admin "
       "of the whole cloud")


def _doc(*rules, defaults=None):
    doc = {'version': 1, 'rules': list(rules)}
    if defaults is not None:
        doc['defaults'] = defaults
    return doc


def _rule(match=None, roles=('member',), project='p', **extra):
    grant = {'project': project}
    if roles is not None:
        grant['roles'] = list(roles)
    return dict({'match': match or {'vo': 'dteam', 'kind': 'voms'},
                 'grant': grant}, **extra)


def _problems(doc):
    with pytest.raises(mapping.MappingError) as caught:
        mapping.parse_mapping(doc, source='m.json')
    return caught.value.problems


# admin refused

@pytest.mark.parametrize('role', ['admin', 'Admin', 'ADMIN'])
def test_a_rule_granting_admin_is_refused(role):
    problems = _problems(_doc(_rule(), _rule(), _rule(roles=['member',
                                                             role])))
    assert problems == (
        'm.json: /rules/2/grant/roles: grants "%s": %s (can create '
        'domains, reset any password); use "manager" or "member", or set '
        '"allow_cloud_admin": true on this rule if that is really meant'
        % (role, WHY),)


def test_allow_cloud_admin_false_still_refuses():
    problems = _problems(_doc(_rule(roles=['admin'],
                                    allow_cloud_admin=False)))
    assert 'grants "admin"' in problems[0]


def test_default_admin_is_refused_and_no_rule_can_allow_it():
    problems = _problems(_doc(_rule(roles=None, allow_cloud_admin=True),
                              defaults={'roles': ['member', 'admin']}))
    assert len(problems) == 1
    assert problems[0].startswith(
        'm.json: /defaults/roles: grants "admin": %s' % WHY)
    assert 'defaults cannot allow it' in problems[0]


def test_legacy_role_admin_is_refused():
    with pytest.raises(mapping.MappingError) as caught:
        mapping.parse_mapping({'dteam': {'tenant': 'dteam'}},
                              source='voms.json', legacy_role='Admin')
    assert caught.value.problems == (
        'voms.json: role "Admin" to grant to every keystone-voms key: %s '
        '(can create domains, reset any password); set [voms_auth] '
        'legacy_mapping_role (--legacy-role) to "member"' % WHY,)


def test_allow_cloud_admin_loads_with_a_warning():
    loaded = mapping.parse_mapping(
        _doc(_rule(), _rule(roles=['member', 'admin'], project='ops',
                            allow_cloud_admin=True)), source='m.json')
    assert loaded.rules[1].allow_cloud_admin is True
    assert loaded.rules[0].allow_cloud_admin is False
    assert loaded.warnings == (
        'm.json: /rules/1: grants "admin" on ops with "allow_cloud_admin": '
        'true: whoever it matches is admin of the whole cloud; remove '
        '"allow_cloud_admin" and grant "manager" unless that is really '
        'meant',)
    assert loaded.evaluate(people.proxy('/dteam')).grants[1].roles == (
        'admin', 'member')


def test_allow_cloud_admin_without_admin_warns_about_implied_roles():
    loaded = mapping.parse_mapping(
        _doc(_rule(roles=['superuser'], allow_cloud_admin=True)))
    assert len(loaded.warnings) == 1
    assert 'may grant roles that imply "admin"' in loaded.warnings[0]


def test_allow_cloud_admin_must_be_a_boolean():
    problems = _problems(_doc(_rule(allow_cloud_admin='yes')))
    assert problems == ('m.json: /rules/0/allow_cloud_admin: must be true '
                        'or false, not a string',)


def test_granted_roles_leave_out_rules_allowed_to_make_cloud_admins():
    loaded = mapping.parse_mapping(_doc(
        _rule(roles=['member', 'manager']),
        _rule(roles=['manager'], project='q'),
        _rule(roles=['admin', 'superuser'], project='r',
              allow_cloud_admin=True)))
    assert loaded.granted_roles() == {
        'member': ('/rules/0',), 'manager': ('/rules/0', '/rules/1')}


def test_granted_roles_of_a_legacy_mapping():
    loaded = mapping.parse_mapping({'dteam': {'tenant': 'a'},
                                    'ops': {'tenant': 'b'}})
    assert loaded.granted_roles() == {'member': ('dteam', 'ops')}
    assert loaded.warnings == ()


# rules that every trusted issuer can reach

@pytest.mark.parametrize('match, asserting', [
    ({'group': '/dteam', 'role': 'VM-Manager'}, '/dteam Role=VM-Manager'),
    ({'vo': 'dteam'}, 'any membership of VO dteam'),
    ({'group': '/dteam/a', 'subgroups': True},
     '/dteam/a or a group below it'),
])
def test_unrestricted_privileged_rule_warns(match, asserting):
    loaded = mapping.parse_mapping(_doc(
        _rule(), _rule(), _rule(match, roles=['member', 'manager'],
                                project='dteam')), source='m.json')
    assert loaded.warnings == (
        'm.json: /rules/2 matches memberships from VOMS proxies and from '
        'tokens of every trusted issuer; any of them asserting %s gets '
        'manager on dteam: restrict it with "kind" and/or "issuer"'
        % asserting,)


@pytest.mark.parametrize('match, roles', [
    # member, reader (and the old _member_) change nobody's access.
    ({'vo': 'dteam'}, ['member', 'reader', '_member_']),
    ({'vo': 'dteam'}, ['Member']),
    # Restricted, or bound to one kind by the condition itself.
    ({'vo': 'dteam', 'kind': 'voms'}, ['manager']),
    ({'vo': 'dteam', 'issuer': people.CHECKIN}, ['manager']),
    ({'fqan': '/dteam/Role=VM-Manager'}, ['manager']),
    ({'entitlement': 'urn:mace:egi.eu:group:dteam#aai.egi.eu'},
     ['manager']),
])
def test_no_warning_for_member_only_or_restricted_rules(match, roles):
    assert mapping.parse_mapping(_doc(_rule(match, roles))).warnings == ()


def test_unrestricted_warning_uses_default_roles():
    loaded = mapping.parse_mapping(_doc(
        _rule({'vo': 'dteam'}, roles=None), defaults={'roles': ['manager']}))
    assert len(loaded.warnings) == 1


def test_check_prints_warnings_and_exits_0(capsys, tmp_path):
    from voms_auth import cli
    path = tmp_path / 'm.json'
    path.write_text(json.dumps(_doc(
        _rule({'vo': 'dteam'}, roles=['manager']),
        _rule(roles=['admin'], allow_cloud_admin=True))))
    code = cli.main(['mapping', 'check', str(path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert out == ('%s: ok, voms-auth/1 mapping, 2 rules, 1 project, '
                   '2 warnings\n' % path)
    lines = err.splitlines()
    assert [line.split(': ')[0] for line in lines] == ['warning'] * 2
    assert lines[0].startswith('warning: %s: /rules/0 matches memberships'
                               % path)
    assert lines[1].startswith('warning: %s: /rules/1: grants "admin"'
                               % path)


def test_mapping_file_logs_warnings_on_every_load(tmp_path, caplog):
    path = tmp_path / 'm.json'
    path.write_text(json.dumps(_doc(_rule(roles=['admin'],
                                          allow_cloud_admin=True))))
    clock = [0.0]
    with caplog.at_level(logging.WARNING, logger='voms_auth.mapping'):
        current = mapping.MappingFile(path, check_interval=1,
                                      clock=lambda: clock[0])
        path.write_text(json.dumps(_doc(_rule(roles=['admin'], project='q',
                                              allow_cloud_admin=True))))
        info = os.stat(path)
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10 ** 10))
        clock[0] = 5.0
        current.current()           # starts the reload in the background
        assert current.wait(timeout=60)
        assert current.current().rules[0].grant.project == 'q'
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2
    assert all('grants "admin"' in r.getMessage() for r in warned)
