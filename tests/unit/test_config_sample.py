"""etc/voms-auth.conf.sample is what oslo-config-generator writes today."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_sample_config_is_up_to_date(tmp_path):
    out = tmp_path / 'sample.conf'
    subprocess.run(
        [sys.executable, '-m', 'oslo_config.generator',
         '--namespace', 'voms_auth', '--wrap-width', '79',
         '--output-file', str(out)],
        check=True, capture_output=True, timeout=120)
    committed = (ROOT / 'etc' / 'voms-auth.conf.sample').read_text()
    assert out.read_text() == committed, (
        'etc/voms-auth.conf.sample is stale: run tox -e genconfig')


def test_every_option_has_help():
    from voms_auth import conf

    for group, opts in conf.list_opts():
        for opt in opts:
            assert opt.help and len(opt.help) > 20, (group, opt.name)
