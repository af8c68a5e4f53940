"""The configuration samples in etc/ load with voms-auth's own option
definitions, so a site copying them gets no unknown or mistyped options."""

import pathlib

from oslo_config import cfg

from voms_auth import conf as voms_conf

ETC = pathlib.Path(__file__).resolve().parents[2] / 'etc'


def test_keystone_conf_snippet_loads():
    conf = cfg.ConfigOpts()
    voms_conf.register_opts(conf)
    conf.register_opts([cfg.ListOpt('methods'),
                        cfg.ListOpt('additional_primary_auth_methods'),
                        cfg.StrOpt('openid'), cfg.StrOpt('mapped')],
                       group='auth')
    conf(['--config-file', str(ETC / 'keystone.conf.voms-auth')],
         project='voms-auth-test')
    assert conf.auth.methods[-3:] == ['voms', 'oidc', 'openid']
    assert (conf.auth.openid, conf.auth.mapped) == ('voms_auth', 'voms_auth')
    assert voms_conf.federation_identity_providers(conf) == (
        {'egi.eu': frozenset({'https://aai.egi.eu/auth/realms/egi'})},
        frozenset({'egi.eu'}))
    assert {'password', 'token', 'application_credential',
            'mapped'} <= set(conf.auth.methods)
    assert set(conf.auth.additional_primary_auth_methods) == {'voms',
                                                              'oidc'}
    assert conf.voms_auth.ca_path == '/etc/grid-security/certificates'
    issuers = voms_conf.load_issuers(conf)
    assert [i.issuer for i in issuers] == [
        'https://aai.egi.eu/auth/realms/egi']
    assert issuers[0].use_userinfo is True
    # Every option the snippet sets in [voms_auth] is one we define.
    known = {opt.name for _, opts in voms_conf.list_opts() for opt in opts}
    text = (ETC / 'keystone.conf.voms-auth').read_text()
    section = text.split('[voms_auth]')[1].split('[')[0]
    for line in section.splitlines():
        if '=' in line and not line.lstrip().startswith('#'):
            assert line.split('=')[0].strip() in known, line
