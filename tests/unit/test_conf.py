"""voms_auth.conf builds the cores from a ConfigOpts (the one place)."""

import pathlib

import pytest
from oslo_config import cfg

from voms_auth import conf as voms_conf
from voms_auth import errors

ETC = pathlib.Path(__file__).resolve().parents[2] / 'etc'


def _conf(tmp_path, text):
    path = tmp_path / 'keystone.conf'
    path.write_text(text)
    conf = cfg.ConfigOpts()
    voms_conf.register_opts(conf)
    conf(args=[], default_config_files=[str(path)], default_config_dirs=[])
    return conf


def test_build_verifier(tmp_path):
    conf = _conf(tmp_path, """
[voms_auth]
ca_path = /grid/certificates
vomsdir = /grid/vomsdir
service_host = Keystone.Example.org
verification_cache_size = 7
verification_cache_ttl = 9
clock_skew = 60
""")
    verifier = voms_conf.build_verifier(conf)
    store = verifier.trust_store
    assert (store.ca_path, store.vomsdir, store.clock_skew.seconds) == (
        '/grid/certificates', '/grid/vomsdir', 60)
    assert verifier.service_host == 'keystone.example.org'
    assert (verifier.cache_size, verifier.cache_ttl) == (7, 9)


def test_build_verifier_reads_the_pusp_robots(tmp_path):
    robots = tmp_path / 'robots'
    robots.write_text('# portal\n"/DC=org/CN=Robot: portal" "/DC=org/CN=CA"\n')
    conf = _conf(tmp_path, '[voms_auth]\npusp_robots_file = %s\n' % robots)
    verifier = voms_conf.build_verifier(conf)
    assert verifier.pusp_robots.listed('/DC=org/CN=Robot: portal',
                                       '/DC=org/CN=CA')
    assert not voms_conf.build_verifier(
        _conf(tmp_path, '[voms_auth]\n')).pusp_robots


def test_a_broken_pusp_robot_list_is_a_configuration_error(tmp_path):
    robots = tmp_path / 'robots'
    robots.write_text('/DC=org/CN=Robot: portal\n')
    conf = _conf(tmp_path, '[voms_auth]\npusp_robots_file = %s\n' % robots)
    with pytest.raises(errors.ConfigurationError, match='line 1'):
        voms_conf.build_verifier(conf)


def test_build_mapping_file(tmp_path):
    conf = _conf(tmp_path, """
[voms_auth]
mapping_file = %s
default_domain = grid
""" % (ETC / 'mapping.json.sample'))
    mapping_file = voms_conf.build_mapping_file(conf)
    assert mapping_file.path == str(ETC / 'mapping.json.sample')
    assert mapping_file.current().rules


def test_shared_cache_region_only_when_asked(tmp_path):
    conf = _conf(tmp_path, '[voms_auth]\n')
    assert voms_conf.shared_cache_region(conf) is None


def test_every_option_is_in_one_module():
    groups = dict(voms_conf.list_opts())
    assert set(groups) == {'voms_auth', 'voms_auth_issuer:<name>'}
    names = [opt.name for opt in groups['voms_auth']]
    assert len(names) == len(set(names))
    assert {'ca_path', 'mapping_file', 'oidc_issuers',
            'verification_cache_size'} <= set(names)
