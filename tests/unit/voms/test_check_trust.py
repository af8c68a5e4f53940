"""``voms-auth check-trust`` through the real entry point on real broken
trust directories (GridPKI CAs and CRLs, files broken as admins break
them)."""

import datetime
import os
import re
import subprocess
import sys

import pytest
from cryptography import x509

from tests.support.pki import GridPKI, igtf_namespaces, write_crl_file

HOUR = datetime.timedelta(hours=1)


def run(*args, env=None):
    full_env = dict(os.environ)
    for name in ('VOMS_AUTH_DEBUG', 'X509_CERT_DIR', 'X509_VOMS_DIR'):
        full_env.pop(name, None)
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, '-m', 'voms_auth', 'check-trust'] + list(args),
        capture_output=True, text=True, timeout=120, check=False,
        env=full_env)
    return result


def dirs(pki):
    return ['--ca-path', str(pki.ca_path), '--vomsdir', str(pki.vomsdir)]


def lines(result, label):
    return [line[len(label) + 2:] for line in result.stdout.splitlines()
            if line.startswith(label + ': ')]


@pytest.fixture
def pki(tmp_path):
    return GridPKI(tmp_path / 'grid')


def test_clean_directories(pki):
    result = run(*dirs(pki))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == (
        'checked 3 CAs (2 anchors), 3 CRLs in %s and 1 VOs in %s (namespace '
        'checking: eugridpma_globus): 0 error(s), 0 warning(s)\n'
        % (pki.ca_path, pki.vomsdir))
    assert result.stderr == ''


def test_errors_refusing_logins(pki):
    ca_path, vomsdir = pki.ca_path, pki.vomsdir
    # a CA whose CRL fetch-crl never wrote
    (ca_path / ('%s.r0' % pki.other_ca.hash)).unlink()
    # an expired CRL, no grace
    stale = pki.add_ca('Stale CA', org='stale')
    pki.expire_crl(stale)
    # a partial chain
    orphan = pki.add_ca('Orphan CA', parent=pki.untrusted_ca)
    # a namespaces file that does not parse
    (ca_path / ('%s.namespaces' % pki.issuing_ca.hash)).write_text(
        '#NAMESPACES-VERSION: 1.0\nTO Issuer "%s" PERMITS Subject "/.*"\n'
        % pki.issuing_ca.dn)
    # a CA file that is no certificate
    (ca_path / '0badc0de.0').write_text('<html>404</html>\n')
    # an LSC file written from OpenSSL 3's default output
    lsc = pki.write_lsc(pki.voms_server, [
        'DC = org, DC = example, OU = Hosts, CN = voms.example.org',
        pki.issuing_ca.dn, pki.root_ca.dn])
    # an LSC file naming a CA that is not installed
    (vomsdir / 'atlas').mkdir()
    atlas = vomsdir / 'atlas' / 'voms.cern.ch.lsc'
    atlas.write_text('/DC=ch/DC=cern/OU=computers/CN=voms.cern.ch\n'
                     '/DC=ch/DC=cern/CN=CERN Grid Certification Authority\n')
    # a VO directory without LSC or certificate
    (vomsdir / 'empty').mkdir()
    # an expired CA
    old = pki.add_ca('Expired CA', org='expired', days=-0.5)
    # a CRL file that is no CRL (beside the root's good .r0)
    (ca_path / ('%s.r1' % pki.root_ca.hash)).write_text('garbage\n')
    # a CA whose only CRL is a delta CRL
    delta = pki.add_ca('Delta CA', org='delta')
    write_crl_file(pki, delta, 'r0',
                   extensions=[(x509.DeltaCRLIndicator(1), True)])
    # a CA whose only CRL is dated in the future
    future = pki.add_ca('Future CA', org='future')
    write_crl_file(pki, future, 'r0', last_update=_now() + HOUR)

    result = run(*dirs(pki))
    assert result.returncode == 1, result.stdout + result.stderr
    errors = lines(result, 'error')
    expected = [
        'the CA %s has no CRL in %s: run fetch-crl' % (pki.other_ca.dn,
                                                       ca_path),
        'the CRL of the CA %s (%s.r*) expired at' % (stale.dn, stale.hash),
        'the CA %s is not a trust anchor: its issuer %s is not in %s' % (
            orphan.dn, pki.untrusted_ca.dn, ca_path),
        'the policy file %s/%s.namespaces does not parse: line 2: expected '
        'TO Issuer' % (ca_path, pki.issuing_ca.hash),
        'the CA file %s/0badc0de.0 cannot be read (it is not a PEM or DER '
        'certificate): ignored, its users are refused' % ca_path,
        '%s line 1 is not a slash-form DN (it is in OpenSSL 3\'s \'DC = '
        'org, ...\' form)' % lsc,
        '%s line 2 names the CA /DC=ch/DC=cern/CN=CERN Grid Certification '
        'Authority, which is not in %s: install the CA' % (atlas, ca_path),
        'the VO directory %s/empty holds no LSC file' % vomsdir,
        'the CA %s expired at' % old.dn,
        'the CRL file %s/%s.r1 cannot be read (it is not a PEM or DER CRL)'
        ': ignored' % (ca_path, pki.root_ca.hash),
        'a CRL of the CA %s (%s.r*) is not used: ' % (delta.dn, delta.hash),
        'the CA %s has no usable CRL in %s: its users are refused' % (
            delta.dn, ca_path),
        'the CRL of the CA %s (%s.r*) is dated in the future' % (
            future.dn, future.hash),
    ]
    for start in expected:
        assert [e for e in errors if e.startswith(start)], (start, errors)
    assert len(errors) == len(expected), errors
    assert result.stdout.splitlines()[-1].endswith(
        ': %d error(s), 0 warning(s)' % len(expected))


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def test_warnings_only(pki, tmp_path):
    pki.expire_crl(pki.other_ca)      # nextUpdate 3 days ago
    # fetch-crl lagging: the CRL ends in 2 hours
    write_crl_file(pki, pki.issuing_ca, 'r0', next_update=_now() + 2 * HOUR)
    soon = pki.add_ca('Soon Gone CA', org='soon', days=10)
    (pki.vomsdir / 'dteam' / 'README').write_text('hello\n')
    (pki.ca_path / '0badcafe.signing_policy').write_text(
        "access_id_CA X509 '/C=X/CN=Gone'\npos_rights globus CA:sign\n"
        "cond_subjects globus '\"/C=X/*\"'\n")
    config = tmp_path / 'keystone.conf'
    config.write_text('[voms_auth]\nca_path = %s\nvomsdir = %s\n'
                      'crl_grace_overrides = %s:345600\n'
                      % (pki.ca_path, pki.vomsdir, pki.other_ca.hash))
    result = run('--config-file', str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert lines(result, 'error') == []
    warnings = lines(result, 'warning')
    for start in (
            'the CRL of the CA %s (%s.r*) expired at' % (pki.other_ca.dn,
                                                         pki.other_ca.hash),
            'the CA %s expires at' % soon.dn,
            '%s/dteam/README is neither an LSC file' % pki.vomsdir,
            'the policy file %s/0badcafe.signing_policy belongs to no CA'
            % pki.ca_path,
            'the CRL of the CA %s (%s.r*) expires at' % (
                pki.issuing_ca.dn, pki.issuing_ca.hash)):
        assert [w for w in warnings if w.startswith(start)], (start,
                                                               warnings)
    assert 'IN GRACE until' in [w for w in warnings
                                if pki.other_ca.hash in w][0]
    assert len(warnings) == 5, warnings
    # the same CRL without the grace period is an error
    assert run(*dirs(pki)).returncode == 1
    # ... and a warning where expired CRLs are allowed
    config.write_text('[voms_auth]\nallow_expired_crl = true\n')
    allowed = run('--config-file', str(config), *dirs(pki))
    assert allowed.returncode == 1, allowed.stdout
    assert [w for w in lines(allowed, 'warning') if w.startswith(
        'the CRL of the CA %s (%s.r*) expired at' % (
            pki.other_ca.dn, pki.other_ca.hash))
        and 'still used because expired CRLs are allowed' in w]


def test_the_configured_mode_is_used(pki, tmp_path):
    (pki.ca_path / ('%s.namespaces' % pki.issuing_ca.hash)).write_text(
        'TO Issuer SELF PERMIT Subject /DC=org/.*\n')
    assert run(*dirs(pki)).returncode == 1
    config = tmp_path / 'voms-auth.conf'
    config.write_text('[voms_auth]\nnamespace_checking = globus\n')
    result = run('--config-file', str(config), *dirs(pki))
    assert result.returncode == 0, result.stdout
    assert '(namespace checking: globus)' in result.stdout
    # a well-formed file: no problem in the default mode
    (pki.ca_path / ('%s.namespaces' % pki.issuing_ca.hash)).write_text(
        igtf_namespaces(pki.issuing_ca, [('SELF', 'PERMIT', '/DC=org/.*')]))
    assert run(*dirs(pki)).returncode == 0


def test_environment_defaults(pki):
    result = run(env={'X509_CERT_DIR': str(pki.ca_path),
                      'X509_VOMS_DIR': str(pki.vomsdir)})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('make_args, message', [
    (lambda p, t: ['--ca-path', str(t / 'missing'), '--vomsdir',
                   str(p.vomsdir)], 'ca_path .*missing is not a directory'),
    (lambda p, t: ['--config-file', str(t / 'missing.conf')],
     'cannot read .*missing.conf'),
    (lambda p, t: ['--config-file', str(t / 'bad.conf')] + dirs(p),
     'namespace_checking'),
    (lambda p, t: ['--crl-warning-hours', 'soon'] + dirs(p),
     "'soon' is not a number"),
])
def test_usage_errors(pki, tmp_path, make_args, message):
    (tmp_path / 'bad.conf').write_text(
        '[voms_auth]\nnamespace_checking = strict\n')
    result = run(*make_args(pki, tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ''
    assert 'Traceback' not in result.stderr
    assert re.search('error: .*' + message, result.stderr), result.stderr
