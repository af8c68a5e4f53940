"""The shipped sample, the reference and the demo grant no cloud admin
and draw no warning."""

import ast
import json
import pathlib
import re

import pytest

from voms_auth import mapping

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _demo_mapping():
    """The ``MAPPING`` dict of tools/demo.py, read without importing the
    demo (it imports Keystone)."""
    tree = ast.parse((ROOT / 'tools' / 'demo.py').read_text())
    for node in tree.body:
        if (isinstance(node, ast.Assign)
                and [t.id for t in node.targets] == ['MAPPING']):
            return ast.literal_eval(node.value)
    raise AssertionError('tools/demo.py has no MAPPING')


RULE = {'match': {'vo': 'dteam', 'kind': 'voms'},
        'grant': {'project': 'dteam', 'roles': ['member', 'manager']}}


def _doc_mappings():
    """Every JSON block of doc/source/mapping.rst that is a v1 mapping or
    a part of one (``deny``, ``approval``: completed with a rule)."""
    text = (ROOT / 'doc' / 'source' / 'mapping.rst').read_text()
    found = []
    for block in re.findall(r'\.\. code-block:: json\n\n((?:    .*\n|\n)+)',
                            text):
        doc = json.loads(block)
        if doc.get('version') == 1:
            found.append(doc)
        elif set(doc) <= {'deny', 'approval'}:
            found.append(dict({'version': 1, 'rules': [RULE]}, **doc))
    assert len(found) == 3
    return found


@pytest.mark.parametrize('doc', [
    json.loads((ROOT / 'etc' / 'mapping.json.sample').read_text()),
    _demo_mapping(),
    *_doc_mappings(),
])
def test_no_cloud_admin_and_no_warning(doc):
    loaded = mapping.parse_mapping(doc)
    assert loaded.warnings == ()
    assert not any(r.allow_cloud_admin for r in loaded.rules)
    assert set(loaded.granted_roles()) <= {'member', 'manager', 'reader'}
    assert 'manager' in loaded.granted_roles()
