"""Issuers configured through oslo.config (an ini file like keystone.conf)."""

import pytest
from oslo_config import cfg

from voms_auth import conf as config
from voms_auth.oidc import errors
from voms_auth.oidc.validator import TokenValidator


def _conf(tmp_path, text):
    path = tmp_path / 'keystone.conf'
    path.write_text(text)
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[str(path)], default_config_dirs=[])
    return conf


def test_two_issuers(tmp_path):
    conf = _conf(tmp_path, """
[voms_auth]
oidc_issuers = egi, iam
oidc_leeway = 10

[voms_auth_issuer:egi]
issuer = https://aai.egi.eu/auth/realms/egi
audience = https://keystone.example.org
client_id = keystone
client_secret = s3cret
use_userinfo = true
token_type = opaque

[voms_auth_issuer:iam]
issuer = https://wlcg.cloud.cnaf.infn.it/
accept_any_audience = true
allowed_endpoint_hosts = keys.cnaf.infn.it
groups_claims = wlcg.groups, groups
algorithms = RS256
""")
    egi, iam = config.load_issuers(conf)
    assert egi.name == 'egi'
    assert egi.issuer == 'https://aai.egi.eu/auth/realms/egi'
    assert egi.audience == 'https://keystone.example.org'
    assert (egi.client_id, egi.client_secret) == ('keystone', 's3cret')
    assert egi.use_userinfo and egi.token_type == 'opaque'
    assert egi.groups_claims == ('eduperson_entitlement', 'wlcg.groups')
    assert iam.issuer == 'https://wlcg.cloud.cnaf.infn.it/'
    assert iam.audience is None and not iam.use_userinfo
    assert iam.accept_any_audience and not egi.accept_any_audience
    assert iam.allowed_endpoint_hosts == ('keys.cnaf.infn.it',)
    assert egi.allowed_endpoint_hosts == ()
    assert iam.groups_claims == ('wlcg.groups', 'groups')
    assert iam.algorithms == ('RS256',)
    validator = config.build_token_validator(conf)
    assert isinstance(validator, TokenValidator)
    assert validator.issuers == (egi, iam)


def test_no_issuers(tmp_path):
    conf = _conf(tmp_path, '[voms_auth]\n')
    assert config.load_issuers(conf) == ()
    with pytest.raises(errors.OIDCConfigurationError, match='no OIDC'):
        config.build_token_validator(conf)


@pytest.mark.parametrize('text, reason', [
    ('[voms_auth]\noidc_issuers = egi\n',
     r'\[voms_auth_issuer:egi\] issuer is not set'),
    ('[voms_auth]\noidc_issuers = egi, egi\n'
     '[voms_auth_issuer:egi]\nissuer = https://op.example\n',
     'names an issuer twice'),
    ('[voms_auth]\noidc_issuers = egi\n'
     '[voms_auth_issuer:egi]\nissuer = http://op.example\n',
     r'\[voms_auth_issuer:egi\].*https'),
    ('[voms_auth]\noidc_issuers = egi\n'
     '[voms_auth_issuer:egi]\nissuer = https://op.example\n'
     'token_type = sometimes\n', r'\[voms_auth_issuer:egi\]'),
    ('[voms_auth]\noidc_issuers = egi\n'
     '[voms_auth_issuer:egi]\nissuer = https://op.example\n'
     'use_userinfo = perhaps\n', r'\[voms_auth_issuer:egi\]'),
    ('[voms_auth]\noidc_issuers = egi\n'
     '[voms_auth_issuer:egi]\nissuer = https://op.example\n'
     'algorithms = HS256\n', 'refused: HS256'),
    ('[voms_auth]\noidc_issuers = egi\n'
     '[voms_auth_issuer:egi]\nissuer = https://op.example\n',
     r'\[voms_auth_issuer:egi\]: issuer egi: audience is not set'),
])
def test_refusals(tmp_path, text, reason):
    conf = _conf(tmp_path, text)
    with pytest.raises(errors.OIDCConfigurationError, match=reason):
        config.load_issuers(conf)


def test_list_opts_documents_everything():
    groups = dict(config.list_opts())
    assert set(groups) == {'voms_auth', 'voms_auth_issuer:<name>'}
    for opts in groups.values():
        for opt in opts:
            assert opt.help, opt.name
    secret = {o.name: o for o in groups['voms_auth_issuer:<name>']}
    assert secret['client_secret'].secret


@pytest.mark.parametrize('size, cached', [(4096, True), (0, False)])
def test_validator_takes_the_verification_cache_options(
        tmp_path, oidc_provider, size, cached):
    conf = _conf(tmp_path, """
[voms_auth]
oidc_issuers = op
verification_cache_size = %d

[voms_auth_issuer:op]
issuer = %s
audience = https://keystone.example.org
""" % (size, oidc_provider.issuer))
    validator = config.build_token_validator(conf)
    token = oidc_provider.jwt_token('zoe', 'https://keystone.example.org')
    first = validator.validate(token)
    assert (validator.validate(token) is first) is cached
