"""``voms-auth verify-token`` against the real OpenID Provider."""

import io
import json
import re

import pytest

from voms_auth import cli

AUD = 'https://keystone.example.org'
ENT = 'urn:mace:egi.eu:group:vo.example.org:sub:role=member#aai.egi.eu'


def _run(capsys, *argv):
    try:
        code = cli.main(['verify-token', *argv])
    except SystemExit as exc:      # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _config(tmp_path, op, **extra):
    lines = ['[voms_auth]', 'oidc_issuers = test', '',
             '[voms_auth_issuer:test]', 'issuer = ' + op.issuer,
             'client_id = ' + op.client_id,
             'client_secret = ' + op.client_secret]
    extra.setdefault('accept_any_audience', 'true')
    lines += ['%s = %s' % item for item in extra.items()]
    path = tmp_path / 'keystone.conf'
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_jwt_accepted(capsys, oidc_provider):
    token = oidc_provider.jwt_token('alice', AUD, entitlements=[ENT],
                                    claims={'name': 'Alice'})
    code, out, err = _run(capsys, '--issuer', oidc_provider.issuer,
                          '--audience', AUD, token)
    assert (code, err) == (0, '')
    doc = json.loads(out)
    assert doc.pop('expires_at').endswith('Z')
    assert doc == {
        'issuer': oidc_provider.issuer, 'subject': 'alice', 'name': 'Alice',
        'memberships': [{'vo': 'vo.example.org',
                         'group': '/vo.example.org/sub', 'role': 'member'}]}


def test_token_from_stdin(capsys, monkeypatch, oidc_provider):
    token = oidc_provider.jwt_token('bob', AUD)
    monkeypatch.setattr('sys.stdin', io.StringIO(token + '\n'))
    code, out, _ = _run(capsys, '--issuer', oidc_provider.issuer,
                        '--audience', AUD, '-')
    assert code == 0
    assert json.loads(out)['subject'] == 'bob'


def test_opaque_token_with_config_file(capsys, tmp_path, oidc_provider):
    token = oidc_provider.opaque_token(
        'carol', userinfo={'eduperson_entitlement': [ENT]})
    path = _config(tmp_path, oidc_provider, use_userinfo='true')
    code, out, _ = _run(capsys, '--config', path, token)
    assert code == 0
    assert json.loads(out)['memberships'] == [
        {'vo': 'vo.example.org', 'group': '/vo.example.org/sub',
         'role': 'member'}]


def test_refused_token_exit_1(capsys, oidc_provider):
    token = oidc_provider.jwt_token('alice', 'https://elsewhere.example')
    code, out, err = _run(capsys, '--issuer', oidc_provider.issuer,
                          '--audience', AUD, token)
    assert (code, out) == (1, '')
    assert err == ("error: token is for audience 'https://elsewhere.example'"
                   ", not 'https://keystone.example.org'\n")


def test_inactive_opaque_exit_1(capsys, tmp_path, oidc_provider):
    code, _, err = _run(capsys, '--config', _config(tmp_path, oidc_provider),
                        'no-such-token')
    assert code == 1
    assert err == 'error: the identity provider says the token is not ' \
                  'active\n'


def test_provider_down_exit_1(capsys, tmp_path):
    from tests.support.oidc_provider import OpenIDProvider

    with OpenIDProvider() as op:
        token = op.opaque_token('dave')
        path = _config(tmp_path, op)
        op.stop()
        code, _, err = _run(capsys, '--config', path, token)
    assert code == 1
    assert err.startswith('error: identity provider unavailable: ')
    assert 'Traceback' not in err


@pytest.mark.parametrize('argv, reason', [
    ([], 'one of the arguments --config --issuer is required'),
    (['--issuer', 'http://op.example.org', '--any-audience'],
     'must be an https URL'),
    (['--issuer', 'https://op.example.org'], 'needs --audience'),
    (['--config', 'CONF', '--any-audience'], 'go with --issuer'),
    (['--issuer', 'https://op.example.org', '--audience', 'a',
      '--any-audience'], 'not allowed with'),
    (['--config', '/nonexistent/keystone.conf'], 'cannot read'),
    (['--config', 'CONF', '--audience', 'x'], 'go with --issuer'),
    (['--issuer', 'https://op.example', '--client-id', 'c',
      '--any-audience'],
     'VOMS_AUTH_OIDC_CLIENT_SECRET'),
    (['--config', 'EMPTY'], 'no OIDC issuers configured'),
    (['--config', 'BAD'], r'\[voms_auth_issuer:x\] issuer is not set'),
])
def test_usage_and_configuration_errors_exit_2(capsys, tmp_path, monkeypatch,
                                               argv, reason):
    monkeypatch.delenv('VOMS_AUTH_OIDC_CLIENT_SECRET', raising=False)
    files = {'CONF': '[voms_auth]\n', 'EMPTY': '[voms_auth]\n',
             'BAD': '[voms_auth]\noidc_issuers = x\n'}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    argv = [str(tmp_path / a) if a in files else a for a in argv]
    code, out, err = _run(capsys, *argv, 'some-token')
    assert (code, out) == (2, '')
    assert re.search(reason, err), err
    assert err.startswith(('error: ', 'usage: '))
