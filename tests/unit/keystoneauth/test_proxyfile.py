"""Client-side checks of the proxy file, with real voms-proxy-fake proxies."""

import datetime
import os
import re

import pytest

from tests.support import pki as grid_pki
from voms_auth.keystoneauth import proxyfile
from voms_auth.keystoneauth.proxyfile import ProxyFileError

UTC = datetime.timezone.utc


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    return grid_pki.GridPKI(tmp_path_factory.mktemp('grid'))


@pytest.fixture(scope='module')
def user(pki):
    return pki.new_user('Client User')


@pytest.fixture(scope='module')
def proxy(pki, user):
    return pki.make_proxy(user, hours=6, fqans=['/dteam'])


def _blocks(path):
    text = path.read_text()
    certs = re.findall(r'-----BEGIN CERTIFICATE-----.*?'
                       r'-----END CERTIFICATE-----\n', text, re.S)
    key = re.search(r'-----BEGIN [A-Z ]*PRIVATE KEY-----.*?'
                    r'-----END [A-Z ]*PRIVATE KEY-----\n', text, re.S)
    return certs, key.group(0)


def test_usable_proxy_returns_its_expiry(proxy):
    expiry = proxyfile.check_proxy_file(proxy)
    now = datetime.datetime.now(UTC)
    assert now + datetime.timedelta(hours=5, minutes=58) < expiry
    assert expiry <= now + datetime.timedelta(hours=6, minutes=1)


def test_missing_file(tmp_path):
    with pytest.raises(ProxyFileError, match='no proxy file at .*x509up_x'
                       '.*voms-proxy-init'):
        proxyfile.check_proxy_file(tmp_path / 'x509up_x')


def test_unreadable_path(tmp_path):
    with pytest.raises(ProxyFileError, match='cannot read the proxy file'):
        proxyfile.check_proxy_file(tmp_path)


def test_not_pem(tmp_path):
    path = tmp_path / 'garbage'
    path.write_text('not a proxy\n')
    with pytest.raises(ProxyFileError, match='holds no PEM certificate'):
        proxyfile.check_proxy_file(path)


def test_certificates_without_key(tmp_path, proxy):
    certs, _ = _blocks(proxy)
    path = tmp_path / 'nokey'
    path.write_text(''.join(certs))
    with pytest.raises(ProxyFileError,
                       match='holds no unencrypted private key'):
        proxyfile.check_proxy_file(path)


def test_key_of_another_proxy(tmp_path, pki, user, proxy):
    certs, _ = _blocks(proxy)
    _, other_key = _blocks(pki.make_proxy(user, fqans=['/dteam']))
    path = tmp_path / 'mixed'
    path.write_text(certs[0] + other_key + ''.join(certs[1:]))
    with pytest.raises(ProxyFileError, match='does not belong to its first'):
        proxyfile.check_proxy_file(path)


def test_proxy_without_user_certificate(tmp_path, proxy):
    certs, key = _blocks(proxy)
    path = tmp_path / 'bare'
    path.write_text(certs[0] + key)
    with pytest.raises(ProxyFileError, match='holds no user certificate'):
        proxyfile.check_proxy_file(path)


def test_expired_proxy(pki, user):
    expired = pki.make_proxy(user, hours=1, pastproxy='2:00',
                             fqans=['/dteam'])
    with pytest.raises(ProxyFileError, match='expired at 20.*Z: make a new'):
        proxyfile.check_proxy_file(expired)


def test_shortest_lived_certificate_of_the_chain_counts(pki):
    # A proxy outliving its user certificate is good until the latter ends.
    short = pki.new_user('Short Lived', days=1)
    proxy = pki.delegate(short, hours=36)
    expiry = proxyfile.check_proxy_file(proxy)
    assert expiry == short.cert.not_valid_after_utc
    later = expiry + datetime.timedelta(seconds=1)
    with pytest.raises(ProxyFileError, match='expired at'):
        proxyfile.check_proxy_file(proxy, now=later)


def test_default_path_follows_x509_user_proxy():
    assert proxyfile.default_proxy_path(
        {'X509_USER_PROXY': '/home/jane/proxy'}) == '/home/jane/proxy'


def test_default_path_is_the_grid_convention():
    assert proxyfile.default_proxy_path({}) == \
        '/tmp/x509up_u%d' % os.getuid()
