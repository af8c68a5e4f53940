"""The WSGI entry point when the Keystone configuration is missing or bad.

Under mod_wsgi, Apache's ``SetEnv`` reaches each request's environ but not
``os.environ``; Keystone's own entry point then dies with a bare
``SystemExit`` and every request gets a 500. Each case runs
``voms_auth.keystone.wsgi_api`` in a fresh Python process (Keystone's
configuration is process-global) with an environment that names no
configuration and a ``HOME`` without one.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

# Imports the entry point as a WSGI server would, sends GET /v3 with the
# extra environ given in argv[1] through werkzeug's test client, prints the
# outcome as JSON on the last line of stdout.
_DRIVER = textwrap.dedent("""\
    import json, sys
    import werkzeug.test
    try:
        from voms_auth.keystone import wsgi_api
    except Exception as exc:
        print(json.dumps({'import_error': type(exc).__name__,
                          'message': str(exc)}))
        sys.exit(0)
    response = werkzeug.test.Client(wsgi_api.application).get(
        '/v3', environ_overrides=json.loads(sys.argv[1]))
    print(json.dumps({'kind': type(wsgi_api.application).__name__,
                      'status': response.status_code,
                      'body': response.get_data(as_text=True)}))
    """)


@pytest.fixture(scope='module')
def home(tmp_path_factory):
    return tmp_path_factory.mktemp('home')


def _run(home, process_env=None, request_env=None):
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
           'HOME': str(home), 'LANG': 'C'}
    env.update(process_env or {})
    result = subprocess.run(
        [sys.executable, '-c', _DRIVER, json.dumps(request_env or {})],
        capture_output=True, text=True, timeout=300, env=env, cwd=home,
        check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


@pytest.fixture(autouse=True)
def _no_system_configuration():
    if os.path.exists('/etc/keystone/keystone.conf') or \
            os.path.exists('/etc/keystone.conf'):
        pytest.skip('this machine has a system Keystone configuration, '
                    'which Keystone would read: the missing-configuration '
                    'cases cannot be shown here')


def test_no_configuration_anywhere_is_a_readable_error(home):
    outcome, stderr = _run(home)
    assert outcome['kind'] == 'DeferredApplication'
    assert outcome['status'] == 500
    assert json.loads(outcome['body'])['error']['message'] == (
        'Keystone is not configured on this server (see the server error '
        'log)')
    assert 'no Keystone configuration: OS_KEYSTONE_CONFIG_FILES and ' \
        'OS_KEYSTONE_CONFIG_DIR are not set' in stderr
    assert "Apache's SetEnv does not reach the process environment" in stderr
    assert 'SystemExit' not in stderr


def test_configuration_from_the_request_environ(home, keystone):
    """What Apache's ``SetEnv OS_KEYSTONE_CONFIG_FILES`` gives under
    mod_wsgi: the variable in the request's environ only."""
    outcome, stderr = _run(home, request_env={
        'OS_KEYSTONE_CONFIG_FILES': str(keystone.config_file)})
    assert outcome['kind'] == 'DeferredApplication'
    assert outcome['status'] == 200, (outcome, stderr[-2000:])
    assert json.loads(outcome['body'])['version']['id'].startswith('v3.')


def test_unreadable_configuration_names_the_file(home, tmp_path):
    missing = tmp_path / 'nowhere' / 'keystone.conf'
    outcome, stderr = _run(home, process_env={
        'OS_KEYSTONE_CONFIG_FILES': str(missing)})
    assert outcome['import_error'] == 'KeystoneConfigUnreadable'
    assert outcome['message'] == (
        'Keystone configuration %s cannot be read by uid %d (missing, or '
        'not readable by the user the WSGI server runs Keystone as)'
        % (missing, os.getuid()))
    assert 'voms-auth cannot start Keystone' in stderr


def test_keystone_exiting_at_startup_is_explained(home, keystone, tmp_path):
    """Keystone's own ``sys.exit`` (here: no fernet key repository) comes
    out as a ConfigurationError naming the configuration and the reason."""
    text = pathlib.Path(keystone.config_file).read_text()
    keys = str(tmp_path / 'no-such-keys')
    broken = tmp_path / 'keystone.conf'
    broken.write_text(text.replace(
        str(keystone.directory / 'fernet-keys'), keys))
    outcome, stderr = _run(home, process_env={
        'OS_KEYSTONE_CONFIG_FILES': str(broken)})
    assert outcome['import_error'] == 'KeystoneStartupFailed', stderr[-2000:]
    assert outcome['message'].startswith(
        'Keystone stopped while starting with configuration %s: ' % broken)
    assert keys in outcome['message']
