"""``voms-auth mapping check / explain / convert``: exit codes and output."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from voms_auth import cli, mapping

ROOT = pathlib.Path(__file__).resolve().parents[3]
SAMPLE = str(ROOT / 'etc' / 'mapping.json.sample')
ENT = 'urn:mace:egi.eu:group:dteam:ibergrid:role=vm_operator#aai.egi.eu'
CHECKIN = 'https://aai.egi.eu/auth/realms/egi'

LEGACY = {'dteam': {'tenant': 'dteam'},
          '/dteam/Role=VM-Manager': {'tenant': 'dteam-admin'}}


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def write(tmp_path):
    def write(content, name='mapping.json'):
        path = tmp_path / name
        path.write_text(content if isinstance(content, str)
                        else json.dumps(content))
        return str(path)
    return write


# check

def test_check_good_file(capsys):
    code, out, err = run(capsys, 'mapping', 'check', SAMPLE)
    assert (code, err) == (0, '')
    assert out == ('%s: ok, voms-auth/1 mapping, 7 rules, 5 projects, '
                   '2 deny entries\n' % SAMPLE)


def test_check_legacy_file(capsys, write):
    path = write(LEGACY, 'voms.json')
    code, out, _ = run(capsys, 'mapping', 'check', path)
    assert code == 0
    assert out == '%s: ok, keystone-voms mapping, 2 rules, 2 projects\n' % path


def test_check_lists_every_problem(capsys, write):
    path = write({'version': 1, 'rules': [
        {'match': {'group': 'dteam'}, 'grant': {'project': 'a'}},
        {'match': {'vo': 'ops'}, 'grant': {'project': 'b', 'roles': []}}]})
    code, out, err = run(capsys, 'mapping', 'check', path)
    assert code == 1
    assert out == ''
    lines = err.splitlines()
    assert lines == [
        'error: %s: /rules/1/grant/roles: must not be empty' % path,
        'error: %s: /rules/0/match: group "dteam" is not a group path like '
        '"/vo/subgroup"' % path,
        'error: %s: /rules/0/grant: grants no roles: give "roles" here or in '
        '"defaults"' % path]


@pytest.mark.parametrize('content, expected', [
    (None, 'cannot read the mapping file: No such file or directory'),
    ('{"version": 1,\n"rules": [}', 'line 2 column 11: invalid JSON'),
])
def test_check_unreadable_or_invalid(capsys, tmp_path, content, expected):
    path = tmp_path / 'm.json'
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, 'mapping', 'check', str(path))
    assert code == 1
    assert err.startswith('error: %s: ' % path) and expected in err
    assert 'Traceback' not in err


def test_check_reads_stdin(capsys, monkeypatch):
    import io
    monkeypatch.setattr(sys, 'stdin', io.TextIOWrapper(io.BytesIO(
        json.dumps(LEGACY).encode())))
    code, out, _ = run(capsys, 'mapping', 'check', '-')
    assert code == 0 and out.startswith('-: ok, keystone-voms')


# explain

def test_explain_fqans(capsys):
    code, out, err = run(capsys, 'mapping', 'explain', SAMPLE,
                         '--fqan', '/dteam/Role=VM-Manager/Capability=NULL',
                         '--fqan', '/dteam/ibergrid')
    assert (code, err) == (0, '')
    doc = json.loads(out)
    assert doc['mapping'] == {'file': SAMPLE, 'format': 'voms-auth/1'}
    assert doc['identity']['kind'] == 'voms'
    assert doc['identity']['subject'].startswith('(command line')
    assert doc['identity']['memberships'] == [
        {'vo': 'dteam', 'group': '/dteam', 'role': 'VM-Manager',
         'source': '/dteam/Role=VM-Manager/Capability=NULL'},
        {'vo': 'dteam', 'group': '/dteam/ibergrid', 'role': None,
         'source': '/dteam/ibergrid'}]
    assert [m['rule'] for m in doc['matched']] == [
        '/rules/0', '/rules/1', '/rules/2']
    assert doc['grants'] == [
        {'project': 'dteam', 'domain': 'Default', 'roles': ['member'],
         'create': False},
        {'project': 'dteam-ibergrid', 'domain': 'Default',
         'roles': ['manager', 'member'], 'create': True}]


@pytest.mark.parametrize('extra, projects', [
    (['--issuer', CHECKIN], ['dteam', 'dteam-ibergrid']),
    (['--issuer', 'https://other.example'], ['dteam', 'dteam-ibergrid']),
    ([], ['dteam', 'dteam-ibergrid']),
])
def test_explain_entitlements(capsys, extra, projects):
    code, out, _ = run(capsys, 'mapping', 'explain', SAMPLE,
                       '--entitlement', ENT, *extra)
    doc = json.loads(out)
    assert code == 0
    assert doc['identity']['kind'] == 'oidc'
    assert [g['project'] for g in doc['grants']] == projects
    # Only the configured issuer reaches the issuer-bound manager rule.
    manager = {'manager', 'member'} == set(doc['grants'][1]['roles'])
    assert manager is (extra == ['--issuer', CHECKIN])


def test_explain_legacy_first_match(capsys, write):
    path = write(LEGACY, 'voms.json')
    code, out, _ = run(capsys, 'mapping', 'explain', path, '--fqan',
                       '/dteam/Role=VM-Manager', '--fqan', '/dteam')
    doc = json.loads(out)
    assert code == 0
    assert doc['mapping']['format'] == 'keystone-voms'
    assert [g['project'] for g in doc['grants']] == ['dteam-admin']
    assert doc['matched'][0]['rule'] == '/dteam/Role=VM-Manager'


def test_explain_no_match_is_refused_with_the_reason(capsys):
    code, out, err = run(capsys, 'mapping', 'explain', SAMPLE,
                         '--fqan', '/atlas')
    assert code == 1
    assert json.loads(out)['grants'] == []
    assert err == 'error: no rule matches; the login would be refused\n'


@pytest.mark.parametrize('argv, code, expected', [
    (['--fqan', 'dteam'], 1, 'error: FQAN \'dteam\' does not start with "/"'),
    (['--fqan', '/dteam//x'], 1, 'empty or malformed group path'),
    (['--entitlement', 'urn:mace:egi.eu:res:x'], 1,
     'is not an AARC group entitlement'),
    (['--fqan', '/dteam', '--issuer', CHECKIN], 2,
     'error: --issuer goes with --entitlement'),
    (['--token', 'not-a-jwt'], 2, 'no OIDC issuers configured'),
])
def test_explain_bad_input(capsys, argv, code, expected):
    result, out, err = run(capsys, 'mapping', 'explain', SAMPLE, *argv)
    assert (result, out) == (code, '')
    assert expected in err
    assert 'Traceback' not in err


@pytest.mark.parametrize('argv, expected', [
    (['--fqan', '/dteam', '--entitlement', ENT], 'not allowed with'),
    ([], 'one of the arguments'),
])
def test_explain_bad_command_lines(capsys, argv, expected):
    with pytest.raises(SystemExit) as caught:
        cli.main(['mapping', 'explain', SAMPLE, *argv])
    assert caught.value.code == 2
    assert expected in capsys.readouterr().err


def test_explain_with_a_bad_mapping_exits_2(capsys, write):
    path = write('{"version": 1, "rules": []}')
    code, out, err = run(capsys, 'mapping', 'explain', path, '--fqan',
                         '/dteam')
    assert (code, out) == (2, '')
    assert err == 'error: %s: /rules: must not be empty\n' % path


def test_explain_token_is_validated(capsys, tmp_path):
    # The real validator refuses a malformed token before any network use.
    conf = tmp_path / 'keystone.conf'
    conf.write_text('[voms_auth]\noidc_issuers = egi\n'
                    '[voms_auth_issuer:egi]\nissuer = %s\n'
                    'audience = https://keystone.example.org\n' % CHECKIN)
    code, out, err = run(capsys, 'mapping', 'explain', SAMPLE, '--token',
                         'not-a-jwt', '--config', str(conf))
    assert (code, out) == (1, '')
    assert err.startswith('error: ') and 'Traceback' not in err


# convert

def test_convert_to_stdout(capsys, write):
    path = write(LEGACY, 'voms.json')
    code, out, err = run(capsys, 'mapping', 'convert', path)
    assert code == 0
    converted = mapping.parse_mapping(out)
    assert converted.format == mapping.FORMAT_V1
    assert json.loads(out)['defaults'] == {'roles': ['member']}
    assert err.startswith('note: VO "dteam": keystone-voms gave only the '
                          'first matching key')


def test_convert_to_file_with_role_and_domain(capsys, write, tmp_path):
    path = write({'ops': {'tenant': 'ops'}}, 'voms.json')
    target = tmp_path / 'new.json'
    code, out, err = run(capsys, 'mapping', 'convert', path, '--role',
                         '_member_', '--domain', 'grid', '-o', str(target))
    assert (code, out, err) == (0, '', '')
    code, out, _ = run(capsys, 'mapping', 'check', str(target))
    assert code == 0
    document = json.loads(target.read_text())
    assert document['defaults'] == {'roles': ['_member_'], 'domain': 'grid'}


@pytest.mark.parametrize('content, expected', [
    ({'version': 1, 'rules': [{'match': {'vo': 'd'}, 'grant': {
        'project': 'p', 'roles': ['member']}}]}, 'already a voms-auth'),
    ({'dteam': {'tenant': ''}}, '"tenant" must be a project name'),
    ('{"dteam": ', 'invalid JSON'),
])
def test_convert_refuses_bad_input(capsys, write, content, expected):
    path = write(content, 'voms.json')
    code, out, err = run(capsys, 'mapping', 'convert', path)
    assert (code, out) == (2, '')
    assert err.startswith('error: ') and expected in err


def test_convert_refuses_a_role_the_new_format_refuses(capsys, write):
    path = write(LEGACY, 'voms.json')
    code, out, err = run(capsys, 'mapping', 'convert', path, '--role',
                         'a b')
    assert (code, out) == (2, '')
    assert 'role name "a b" contains' in err


def test_real_entry_point(tmp_path):
    script = pathlib.Path(sys.executable).with_name('voms-auth')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"version": 1, "rules": [{"match": {"role": "admin"}, '
                   '"grant": {"project": "p", "roles": ["member"]}}]}')
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
    good = subprocess.run([str(script), 'mapping', 'check', SAMPLE],
                          capture_output=True, text=True, env=env,
                          check=False)
    assert (good.returncode, good.stderr) == (0, '')
    assert 'ok, voms-auth/1 mapping' in good.stdout
    refused = subprocess.run([str(script), 'mapping', 'check', str(bad)],
                             capture_output=True, text=True, env=env,
                             check=False)
    assert refused.returncode == 1
    assert refused.stderr == (
        'error: %s: /rules/0/match: names no VO, group, fqan or entitlement;'
        ' a rule must not match everybody\n'
        'error: %s: /rules/0/match: "role" needs "vo" or "group" (a role '
        'name alone would match that role in every VO)\n' % (bad, bad))


def test_explain_a_real_token(capsys, tmp_path, oidc_provider):
    op = oidc_provider
    audience = 'https://keystone.example.org'
    conf = tmp_path / 'keystone.conf'
    conf.write_text(
        '[voms_auth]\noidc_issuers = test\n'
        '[voms_auth_issuer:test]\nissuer = %s\naudience = %s\n'
        % (op.issuer, audience))
    rules = tmp_path / 'mapping.json'
    rules.write_text(json.dumps({
        'version': 1, 'defaults': {'roles': ['member']}, 'rules': [
            {'match': {'entitlement': ENT, 'issuer': op.issuer},
             'grant': {'project': 'dteam-ibergrid', 'roles': ['manager']}},
            {'match': {'entitlement': ENT, 'issuer': CHECKIN},
             'grant': {'project': 'elsewhere'}}]}))
    token = op.jwt_token('alice', audience, entitlements=[ENT])
    code, out, err = run(capsys, 'mapping', 'explain', str(rules),
                         '--token', token, '--config', str(conf))
    assert (code, err) == (0, '')
    doc = json.loads(out)
    assert doc['identity']['issuer'] == op.issuer
    assert doc['identity']['subject'] == 'alice'
    assert [m['rule'] for m in doc['matched']] == ['/rules/0']
    assert doc['grants'] == [{'project': 'dteam-ibergrid',
                              'domain': 'Default', 'roles': ['manager'],
                              'create': False}]
    # The same token for another audience is refused: exit 1, no JSON.
    other = op.jwt_token('alice', 'https://other.example', entitlements=[ENT])
    code, out, err = run(capsys, 'mapping', 'explain', str(rules),
                         '--token', other, '--config', str(conf))
    assert (code, out) == (1, '')
    assert err.startswith('error: ') and 'audience' in err.lower()


@pytest.fixture(scope='module')
def grid(tmp_path_factory):
    from tests.support.pki import GridPKI
    return GridPKI(tmp_path_factory.mktemp('grid'), vo='dteam')


def test_explain_a_real_proxy(capsys, grid):
    user = grid.new_user('Jane Doe')
    proxy = grid.make_proxy(user, fqans=['/dteam/Role=VM-Manager',
                                         '/dteam/ibergrid'])
    trust = ['--ca-path', str(grid.ca_path), '--vomsdir', str(grid.vomsdir)]
    code, out, err = run(capsys, 'mapping', 'explain', SAMPLE,
                         '--proxy', str(proxy), *trust)
    assert (code, err) == (0, '')
    doc = json.loads(out)
    assert doc['identity']['kind'] == 'voms'
    assert doc['identity']['subject'] == user.dn
    assert [(m['group'], m['role']) for m in doc['identity']['memberships']
            ] == [('/dteam', 'VM-Manager'), ('/dteam/ibergrid', None)]
    assert doc['grants'] == [
        {'project': 'dteam', 'domain': 'Default', 'roles': ['member'],
         'create': False},
        {'project': 'dteam-ibergrid', 'domain': 'Default',
         'roles': ['manager', 'member'], 'create': True}]
    # A proxy whose CA is not trusted is refused: exit 1, no JSON.
    stranger = grid.new_user('Mallory', ca=grid.untrusted_ca)
    code, out, err = run(capsys, 'mapping', 'explain', SAMPLE, '--proxy',
                         str(grid.make_proxy(stranger)), *trust)
    assert (code, out) == (1, '')
    assert err.startswith('error: ') and 'Traceback' not in err


def test_schema_command_prints_the_shipped_schema(capsys):
    code, out, _ = run(capsys, 'mapping', 'schema')
    assert code == 0
    assert json.loads(out) == mapping.schema()


# explain: deny, approval, warnings

GOVERNED = {
    'version': 1, 'defaults': {'roles': ['member']},
    'rules': [
        {'match': {'vo': 'dteam'}, 'grant': {'project': 'dteam'}},
        {'match': {'group': '/dteam', 'role': 'VM-Manager'},
         'grant': {'project': 'dteam', 'roles': ['manager']}}],
    'deny': [{'description': 'suspended members',
              'match': {'group': '/dteam/suspended'}},
             {'match': {'vo': 'atlas'}}],
    'approval': {'required': True, 'people': [
        {'kind': 'oidc', 'issuer': CHECKIN, 'subject': 'x'}]}}


def test_explain_shows_the_deny_entry_and_refuses(capsys, write):
    path = write(GOVERNED)
    code, out, err = run(capsys, 'mapping', 'explain', path, '--fqan',
                         '/dteam', '--fqan', '/dteam/suspended/x')
    assert code == 1
    doc = json.loads(out)
    assert (doc['grants'], doc['matched']) == ([], [])
    assert doc['denied_by'] == {'name': '/deny/0',
                                'description': 'suspended members',
                                'match': {'group': '/dteam/suspended'}}
    assert err.splitlines()[-1] == ('error: denied by /deny/0: suspended '
                                    'members; the login would be refused')
    code, out, err = run(capsys, 'mapping', 'explain', path, '--fqan',
                         '/atlas')
    assert code == 1
    assert err.splitlines()[-1] == ('error: denied by /deny/1: {"vo": '
                                    '"atlas"}; the login would be refused')


def test_explain_shows_warnings_and_approval_state(capsys, write):
    path = write(GOVERNED)
    code, out, err = run(capsys, 'mapping', 'explain', path, '--fqan',
                         '/dteam/Role=VM-Manager')
    assert code == 0
    doc = json.loads(out)
    assert doc['approval'] == 'not-listed' and doc['denied_by'] is None
    assert [g['roles'] for g in doc['grants']] == [['manager', 'member']]
    lines = err.splitlines()
    assert lines == [
        'warning: %s: /rules/1 matches memberships from VOMS proxies and '
        'from tokens of every trusted issuer; any of them asserting /dteam '
        'Role=VM-Manager gets manager on dteam: restrict it with "kind" '
        'and/or "issuer"' % path,
        'note: approval is required and this person is not listed in '
        '/approval/people; the login succeeds only if an admin created '
        'their Keystone user beforehand']


def test_explain_approval_of_the_command_line_identity(capsys, write):
    path = write(GOVERNED)
    code, out, err = run(capsys, 'mapping', 'explain', path,
                         '--entitlement', 'urn:mace:egi.eu:group:dteam',
                         '--issuer', CHECKIN)
    # The command line identity has a placeholder subject: not listed.
    assert code == 0
    assert json.loads(out)['approval'] == 'not-listed'
    path = write(dict(GOVERNED, approval={'required': False}))
    code, out, err = run(capsys, 'mapping', 'explain', path, '--fqan',
                         '/dteam')
    assert (code, json.loads(out)['approval']) == (0, None)
    assert 'note:' not in err


def test_explain_a_real_proxy_of_a_listed_person(capsys, grid, write):
    user = grid.new_user('Listed Person')
    proxy = grid.make_proxy(user, fqans=['/dteam'])
    trust = ['--ca-path', str(grid.ca_path), '--vomsdir', str(grid.vomsdir)]
    code, out, _ = run(capsys, 'mapping', 'explain', SAMPLE, '--proxy',
                       str(proxy), *trust)
    issuer = json.loads(out)['identity']['issuer']
    path = write(dict(GOVERNED, approval={'required': True, 'people': [
        {'kind': 'voms', 'issuer': issuer, 'subject': user.dn}]}))
    code, out, err = run(capsys, 'mapping', 'explain', path, '--proxy',
                         str(proxy), *trust)
    assert code == 0
    assert json.loads(out)['approval'] == 'listed'
    assert 'note:' not in err
