"""``voms-auth verify-proxy`` through the real entry point (a subprocess
running ``python -m voms_auth``), as other tools call it."""

import datetime
import json
import os
import subprocess
import sys

import pytest


def run(args, stdin=None, env=None):
    full_env = dict(os.environ)
    full_env.pop('VOMS_AUTH_DEBUG', None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, '-m', 'voms_auth', 'verify-proxy'] + args,
        input=stdin, capture_output=True, timeout=120, check=False,
        env=full_env)


@pytest.fixture(scope='module')
def dirs(pki):
    return ['--ca-path', str(pki.ca_path), '--vomsdir', str(pki.vomsdir)]


def test_valid_proxy(world, pki, dirs):
    fqans = ['/dteam', '/dteam/ibergrid/Role=VM-Manager']
    path = pki.make_proxy(world.jane, fqans=fqans)
    result = run(dirs + [str(path)])
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out['user'] == world.jane.dn
    assert out['user_ca'] == world.jane.ca_dn
    assert out['vo'] == 'dteam'
    assert out['fqans'] == fqans
    assert out['server'] == pki.voms_server.dn
    assert out['uri'] == pki.voms_server.uri
    for key in ('not_before', 'not_after', 'expires_at'):
        assert out[key].endswith('Z') and 'T' in out[key]
    assert result.stderr == b''


def test_stdin_and_environment_defaults(world, pki):
    path = pki.make_proxy(world.jane)
    result = run(['-'], stdin=path.read_bytes(),
                 env={'X509_CERT_DIR': str(pki.ca_path),
                      'X509_VOMS_DIR': str(pki.vomsdir)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)['user'] == world.jane.dn


def test_at_for_archived_proxy(world, pki, dirs):
    path = pki.make_proxy(world.jane, hours=1, pastproxy='3:00',
                          vomslife=1, pastac='3:00')
    assert_refused(run(dirs + [str(path)]), 'expired at')
    assert_refused(run(dirs + ['--at', '2000-01-01T00:00:00Z', str(path)]),
                   'not valid before')
    # half an hour after the AC and proxy started: valid then
    when = (datetime.datetime.now(datetime.timezone.utc)
            - datetime.timedelta(hours=2, minutes=30))
    result = run(dirs + ['--at', when.strftime('%Y-%m-%dT%H:%M:%SZ'),
                         str(path)])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)['vo'] == 'dteam'


def assert_refused(result, reason):
    assert result.returncode == 1
    assert result.stdout == b''
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith('error: ')
    assert reason in lines[0]
    assert 'Traceback' not in result.stderr.decode()


def test_refused_revoked(world, pki, dirs):
    assert_refused(run(dirs + [str(pki.make_proxy(world.revoked))]),
                   'was revoked by')


def test_refused_expired(world, pki, dirs):
    path = pki.make_proxy(world.jane, hours=1, pastproxy='2:00')
    assert_refused(run(dirs + [str(path)]), 'expired at')


@pytest.mark.parametrize('data', [b'', b'garbage\n', b'\x00\x01\x02',
                                  b'-----BEGIN CERTIFICATE-----\nAAAA\n'])
def test_refused_unparseable(dirs, data):
    assert_refused(run(dirs + ['-'], stdin=data), 'PEM')


def test_refused_key_never_printed(world, pki, dirs):
    path = pki.make_proxy(world.jane, vo=None)
    result = run(dirs + [str(path)])
    assert_refused(result, 'no VOMS attribute certificate')
    assert b'PRIVATE' not in result.stderr


@pytest.mark.parametrize('args,reason', [
    (['--ca-path', '/nonexistent/certs'], '--ca-path /nonexistent/certs'),
    (['--vomsdir', '/nonexistent/vomsdir'], '--vomsdir /nonexistent'),
    (['--at', 'yesterday'], '--at: yesterday is not an RFC 3339'),
    (['--at', '2017-01-01T00:00:00'], 'no time zone'),
])
def test_usage_errors(world, pki, dirs, args, reason):
    path = pki.make_proxy(world.jane)
    result = run(dirs + args + [str(path)])
    assert result.returncode == 2
    assert result.stderr.decode().splitlines()[-1].startswith('error: ')
    assert reason in result.stderr.decode()


def test_service_host_and_expired_crl_switches(world, pki, dirs):
    targeted = pki.make_proxy(world.jane, target='keystone.example.org')
    assert_refused(run(dirs + [str(targeted)]), 'no service host')
    ok = run(dirs + ['--service-host', 'keystone.example.org',
                     str(targeted)])
    assert ok.returncode == 0, ok.stderr
    stale = pki.make_proxy(world.stale_user)
    assert_refused(run(dirs + [str(stale)]), 'expired at')
    ok = run(dirs + ['--allow-expired-crl', str(stale)])
    assert ok.returncode == 0, ok.stderr


def test_unreadable_file(dirs, tmp_path):
    result = run(dirs + [str(tmp_path / 'missing')])
    assert result.returncode == 2
    assert 'error: cannot read' in result.stderr.decode()


def test_missing_argument():
    assert run([]).returncode == 2
