"""etc/apache-keystone-voms-auth.conf passes Apache's own configuration
test with this machine's modules, so the sample a site copies is valid.

Only its site-specific paths are replaced (certificates, trust directory,
WSGI script, log directory); every directive is Apache's to judge.
"""

import os
import pathlib
import pwd
import subprocess

from tests.support import apache as apache_harness

SAMPLE = (pathlib.Path(__file__).resolve().parents[2] / 'etc'
          / 'apache-keystone-voms-auth.conf')


def test_apache_sample_passes_configtest(tmp_path):
    (tmp_path / 'host').mkdir()
    creds = apache_harness.make_host_cert(tmp_path / 'host')
    certificates = tmp_path / 'certificates'
    certificates.mkdir()
    keystone_dir = tmp_path / 'keystone'
    keystone_dir.mkdir()
    (keystone_dir / 'voms-auth.wsgi').write_text('application = None\n')
    logs = tmp_path / 'logs'
    logs.mkdir()
    worker = 'www-data'
    pwd.getpwnam(worker)  # created by Debian's apache2 package

    text = SAMPLE.read_text()
    replacements = {
        '/etc/grid-security/hostcert.pem': str(creds.cert_file),
        '/etc/grid-security/hostkey.pem': str(creds.key_file),
        '/etc/grid-security/certificates': str(certificates),
        '/etc/keystone': str(keystone_dir),
        'user=keystone group=keystone': 'user=%s group=%s' % (worker,
                                                              worker),
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    modules = ''.join(
        'LoadModule %s %s\n' % (name, apache_harness.MODULES_DIR / so)
        for name, so in apache_harness.APACHE_MODULES)
    config = tmp_path / 'httpd.conf'
    config.write_text(
        'ServerRoot "%s"\nPidFile "%s/httpd.pid"\nErrorLog "%s/error.log"\n'
        'DefaultRuntimeDir "%s"\n%s%s\n%s'
        % (tmp_path, tmp_path, logs, tmp_path, modules,
           apache_harness.mod_wsgi_config(), text))
    result = subprocess.run(
        [apache_harness.apache_binary(), '-t', '-d', str(tmp_path), '-f',
         str(config)],
        capture_output=True, text=True, timeout=60, check=False,
        env=dict(os.environ, APACHE_LOG_DIR=str(logs)))
    assert result.returncode == 0, result.stderr
    assert 'Syntax OK' in result.stderr
