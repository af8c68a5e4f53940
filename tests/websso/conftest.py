"""Horizon WebSSO end to end: the session's servers and the browser.

One Apache (:class:`~tests.support.apache.ApacheKeystone`) serves Keystone
with voms-auth on one port, its websso paths protected by
mod_auth_openidc, and Horizon on another (:mod:`tests.support.horizon`);
the test OpenID Provider (node ``oidc-provider``) is the relying party's
provider with its login and consent pages. Chromium is Debian's
``/usr/bin/chromium``, driven by Playwright's Python package (no browser
download). Screenshots go to ``<basetemp>/screenshots`` and are copied
to ``.test-results/websso-screenshots``.
"""

import dataclasses
import functools
import json
import pathlib
import shutil

import pytest
import requests

from tests.e2e.conftest import AUDIENCE, ENT, MAPPING, login_body
from tests.support import apache as apache_harness
from tests.support import horizon as horizon_harness
from tests.support import keystone as local_keystone
from tests.support import local
from tests.support import pki as grid_pki
from tests.support.oidc_provider import OpenIDProvider

IDP_ID = 'egi.eu'
PROTOCOL = 'openid'
OPERATOR = ENT + 'dteam:ibergrid:role=vm_operator#aai.egi.eu'
OUTSIDER = ENT + 'lhcb:role=member#aai.egi.eu'
CHROMIUM = '/usr/bin/chromium'
#: Flags of /work/shared/FACTS.md for Debian's Chromium run as root.
CHROMIUM_ARGS = ['--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
RESULTS = pathlib.Path(__file__).resolve().parents[2] / '.test-results'

#: keystone.conf lines for Keystone's generic websso URL (which finds the
#: identity provider by the issuer mod_auth_openidc puts in the environ).
AUTH_CONF = """
[openid]
remote_id_attribute = OIDC_CLAIM_iss
"""


@dataclasses.dataclass
class Site:
    """The running servers of the session."""

    apache: apache_harness.ApacheKeystone
    horizon: horizon_harness.Horizon
    provider: OpenIDProvider

    @property
    def keystone(self):
        return self.apache.keystone

    @functools.cached_property
    def admin_token(self):
        """An admin token from a password login."""
        response = requests.post(
            self.apache.auth_url + '/auth/tokens',
            verify=str(self.apache.ca_file), timeout=60,
            json=login_body('password', {'user': {
                'name': 'admin', 'domain': {'id': 'default'},
                'password': local_keystone.ADMIN_PASSWORD}}, 'admin'))
        assert response.status_code == 201, response.text
        return response.headers['X-Subject-Token']


@pytest.fixture(scope='session')
def site(tmp_path_factory):
    directory = tmp_path_factory.mktemp('websso')
    grid = grid_pki.GridPKI(directory / 'grid')
    keystone_port = local.free_port()
    redirect = 'https://127.0.0.1:%d%s' % (keystone_port,
                                           horizon_harness.REDIRECT_PATH)
    provider = OpenIDProvider(redirect_uris=[redirect]).start()
    horizon = horizon_harness.Horizon(directory / 'horizon', idp_id=IDP_ID,
                                      protocol=PROTOCOL)
    mapping = directory / 'mapping.json'
    mapping.write_text(json.dumps(MAPPING, indent=2))
    keystone = local_keystone.LocalKeystone(
        directory / 'keystone',
        voms_auth={
            'ca_path': grid.ca_path,
            'vomsdir': grid.vomsdir,
            'mapping_file': mapping,
            'trust_reload_interval': 0,
            'verification_cache_ttl': 0,
        },
        issuers={'testop': {
            'issuer': provider.issuer,
            'audience': AUDIENCE,
            'client_id': provider.client_id,
            'client_secret': provider.client_secret,
            'identity_providers': IDP_ID,
        }},
        methods=local_keystone.federation_methods(),
        auth_plugins=local_keystone.FEDERATION_PLUGINS,
        extra=horizon.keystone_conf() + AUTH_CONF,
    ).setup()
    apache = apache_harness.ApacheKeystone(
        keystone, directory / 'apache', ca_path=grid.ca_path,
        port=keystone_port, modules=horizon_harness.MODULES,
        readable=[horizon.directory],
        vhost_config=lambda a: horizon_harness.openidc_config(
            a, provider, AUDIENCE, protocol=PROTOCOL),
        server_config=horizon.server_config)
    try:
        apache.start(timeout=240)
        yield Site(apache, horizon, provider)
    finally:
        apache.close(remove=False)  # pytest keeps its last 3: logs
        provider.close()


@pytest.fixture(scope='session')
def admin_token(site):
    return site.admin_token


@pytest.fixture(scope='session')
def browser():
    # tox -e websso installs it; a missing one is an error, not a skip
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shoot(tmp_path_factory):
    """``shoot(page, name)``: keep a screenshot of ``page`` as
    ``<basetemp>/screenshots/<name>.png`` and in
    ``.test-results/websso-screenshots/``."""
    shots = tmp_path_factory.getbasetemp() / 'screenshots'
    shots.mkdir(exist_ok=True)
    kept = RESULTS / 'websso-screenshots'

    def _shoot(page, name):
        target = shots / ('%s.png' % name)
        page.screenshot(path=str(target), full_page=True)
        kept.mkdir(parents=True, exist_ok=True)
        shutil.copy(target, kept / target.name)
        return target

    return _shoot


@pytest.fixture
def page(browser, request, shoot):
    """A fresh browser context (no cookies) and page; a screenshot of the
    last page is kept for every test."""
    # The host CA is a throwaway made by the harness; Chromium has no
    # option to trust one CA file, so certificate errors are ignored for
    # this context only (Horizon and the clients verify Keystone's TLS).
    context = browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(60_000)
    page = context.new_page()
    yield page
    try:
        shoot(page, request.node.name)
    finally:
        context.close()
