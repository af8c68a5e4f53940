"""Safe logs and messages: control characters escaped, hostile FQANs
refused, no server paths in what an anonymous client is told."""

import logging

import pytest

from voms_auth import errors as root_errors
from voms_auth.errors import printable
from voms_auth.voms import TrustStore, Verifier, errors, fqan


@pytest.mark.parametrize('text,shown', [
    ('Jane Doe', 'Jane Doe'),
    ('a\nINFO forged', 'a\\nINFO forged'),
    ('nul\x00', 'nul\\x00'),
    ('cr\r\ttab', 'cr\\r\\ttab'),
    ('esc\x1b[31m', 'esc\\x1b[31m'),
    ('del\x7f c1\x85', 'del\\x7f c1\\x85'),
    ('ls\u2028ps\u2029', 'ls\\u2028ps\\u2029'),
    ('back\\slash', 'back\\\\slash'),
    ('Jos\u00e9 \u65e5\u672c', 'Jos\u00e9 \u65e5\u672c'),
    (42, '42'),
])
def test_printable(text, shown):
    assert printable(text) == shown


def test_errors_escape_their_message_and_keep_a_public_one():
    exc = root_errors.CredentialError('user /CN=a\nb in /etc/x',
                                      public='user /CN=a\nb')
    assert str(exc) == exc.detail == 'user /CN=a\\nb in /etc/x'
    assert exc.public == 'user /CN=a\\nb'
    plain = errors.ProxyViolation('x\x00')
    assert plain.public == plain.detail == 'x\\x00'


@pytest.fixture(scope='module')
def eve(pki):
    return pki.new_user('Eve\nINFO keystone forged line\x00')


def test_subject_with_control_characters_in_errors(eve, pki, verifier):
    path = pki.make_proxy(eve, vo=None)
    with pytest.raises(errors.NoVomsExtension) as exc:
        verifier.verify_pem(path.read_bytes())
    for text in (str(exc.value), exc.value.public):
        assert '\n' not in text and '\x00' not in text
        assert 'CN=Eve\\nINFO keystone forged line\\x00' in text


def test_subject_with_control_characters_in_logs(eve, pki, world, caplog):
    verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir), cache_size=0)
    path = pki.make_proxy(eve)
    with caplog.at_level(logging.DEBUG, logger='voms_auth.voms'):
        cred = verifier.verify_pem(path.read_bytes())
    assert cred.user.endswith('CN=Eve\nINFO keystone forged line\x00')
    lines = [r.getMessage() for r in caplog.records
             if 'verified VOMS proxy' in r.getMessage()]
    assert lines and all('\n' not in m and '\x00' not in m for m in lines)
    assert 'Eve\\nINFO keystone' in lines[0]


@pytest.mark.parametrize('value', [
    '/dteam/..', '/dteam/.', '/../x', '/./x', '/dteam/a\nb', '/dteam/a\x00b',
    '/dteam\n', '/dteam/Role=..', '/dteam/Role=a\nb',
    '/dteam/Capability=\x00', '/dteam/Role=NULL/Capability=a\nb',
    '/dteam/Capability=..',
])
def test_hostile_fqans_are_refused(value):
    with pytest.raises(fqan.InvalidFQAN):
        fqan.parse_fqan(value)


@pytest.mark.parametrize('value', ['/dteam/..', '/dteam/a\nINFO forged',
                                   '/dteam/Capability=x\x01'])
def test_ac_with_hostile_fqan_is_refused(world, pki, verifier, value):
    path = pki.make_proxy(world.jane, fqans=['/dteam', value])
    with pytest.raises(errors.MalformedAC, match='invalid FQAN') as exc:
        verifier.verify_pem(path.read_bytes())
    assert '\n' not in str(exc.value) and '\x01' not in str(exc.value)


def _public_and_detail(verifier, data):
    with pytest.raises(errors.VomsError) as exc:
        verifier.verify_pem(data)
    return exc.value


def test_no_server_paths_in_public_messages(world, pki, verifier):
    ca_path, vomsdir = str(pki.ca_path), str(pki.vomsdir)
    cases = [
        (pki.make_proxy(world.stranger), errors.UntrustedCA, ca_path),
        (pki.make_proxy(world.jane, vo='nosuchvo'), errors.UnknownVO,
         vomsdir),
        (pki.make_proxy(world.jane, server=world.rogue_server),
         errors.ACServerNotTrusted, vomsdir),
    ]
    for path, cls, server_path in cases:
        exc = _public_and_detail(verifier, path.read_bytes())
        assert type(exc) is cls
        assert server_path in exc.detail
        assert server_path not in exc.public and pki.root.as_posix() \
            not in exc.public
        assert exc.public.split()[:3] == exc.detail.split()[:3]


def test_no_server_paths_when_a_crl_is_missing(pki, world, tmp_path):
    r0 = pki.ca_path / ('%s.r0' % pki.issuing_ca.hash)
    data = pki.make_proxy(world.bob).read_bytes()
    saved = r0.read_bytes()
    r0.unlink()
    try:
        exc = _public_and_detail(
            Verifier(TrustStore(pki.ca_path, pki.vomsdir), cache_size=0),
            data)
    finally:
        r0.write_bytes(saved)
    assert type(exc) is errors.CRLMissing
    assert str(pki.ca_path) in exc.detail
    assert str(pki.ca_path) not in exc.public


def test_no_server_paths_for_unusable_trust_material(tmp_path):
    (tmp_path / 'vomsdir').mkdir()
    store = TrustStore(tmp_path / 'nope', tmp_path / 'vomsdir')
    with pytest.raises(errors.TrustStoreError) as exc:
        store.snapshot()
    assert str(tmp_path) in exc.value.detail
    assert str(tmp_path) not in exc.value.public
