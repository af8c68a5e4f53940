"""Fuzzing the mapping loader: ``parse_mapping`` with arbitrary JSON-ish
documents (built from the format's own keys), mutations of the shipped
sample, and arbitrary bytes. It must return a mapping or raise
:class:`~voms_auth.mapping.MappingError`, nothing else."""

import copy
import json
import pathlib

from hypothesis import example, given
from hypothesis import strategies as st

from voms_auth.mapping import MappingError, parse_mapping

SAMPLE_PATH = (pathlib.Path(__file__).resolve().parents[2] / 'etc'
               / 'mapping.json.sample')
SAMPLE_TEXT = SAMPLE_PATH.read_bytes()
SAMPLE = json.loads(SAMPLE_TEXT)

KEYS = ['version', 'description', 'comment', 'defaults', 'rules', 'deny',
        'approval', 'match', 'grant', 'vo', 'group', 'role', 'roles',
        'project', 'domain', 'create', 'fqan', 'entitlement', 'issuer',
        'kind', 'subject', 'subgroups', 'allow_cloud_admin', 'required',
        'people', 'tenant', 'name', 'x']
WORDS = ['dteam', '/dteam', '/dteam/..', '/dteam/a/Role=VM-Manager',
         '/ops/Role=NULL/Capability=NULL', 'member', 'admin', 'manager',
         'voms', 'oidc', 'Default', '', '.', '..', 'a\nb', 'nul\x00',
         '/DC=org/CN=x', 'https://aai.egi.eu/auth/realms/egi',
         'urn:mace:egi.eu:group:dteam:role=member#aai.egi.eu', '\u00e9']

scalars = (st.none() | st.booleans() | st.integers(-2, 3)
           | st.integers() | st.floats(allow_nan=False,
                                       allow_infinity=False)
           | st.sampled_from(WORDS) | st.text(max_size=20))
documents = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS)
                                        | st.text(max_size=8),
                                        children, max_size=5)),
    max_leaves=30)


def _loads_or_refuses(value):
    """``parse_mapping(value)`` returns or raises MappingError only."""
    try:
        parse_mapping(value, source='<fuzz>')
    except MappingError as exc:
        assert exc.problems and all(isinstance(p, str)
                                    for p in exc.problems)


@given(documents)
@example({'version': 1, 'rules': [{'match': {}, 'grant': {}}]})
@example({'version': True, 'rules': []})
@example({'version': 1.0, 'rules': [{'match': {'fqan': '/dteam/..'},
                                     'grant': {'project': 'p'}}]})
@example({'dteam': {'tenant': None}})
@example({'dteam': {'tenant': 'p'}, '/dteam/..': {'tenant': 'q'}})
def test_arbitrary_documents(doc):
    _loads_or_refuses(doc)
    _loads_or_refuses(json.dumps(doc))


@st.composite
def mutated_sample(draw):
    """The sample mapping with up to three places replaced by arbitrary
    JSON values (or removed)."""
    doc = copy.deepcopy(SAMPLE)
    for _ in range(draw(st.integers(1, 3))):
        parent, key = doc, None
        node = doc
        while isinstance(node, (dict, list)) and node and \
                draw(st.integers(0, 3)) > 0:
            keys = list(node) if isinstance(node, dict) else \
                list(range(len(node)))
            parent, key = node, draw(st.sampled_from(keys))
            node = node[key]
        if key is None:
            continue
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[key]
        else:
            parent[key] = draw(documents)
    return doc


@given(mutated_sample())
@example({'version': 1, 'rules': [], 'deny': None})    # crashed: TypeError
@example({'version': 1, 'rules': [], 'deny': 'x'})
def test_mutated_sample(doc):
    _loads_or_refuses(doc)


@given(st.binary(max_size=2048))
@example(b'[' * 100000)
@example(b'{"a":' * 50000)
@example(b'\xef\xbb\xbf{}')
@example(b'{"version": 1, "version": 1}')
@example(b'{"version": NaN}')
def test_arbitrary_bytes(blob):
    _loads_or_refuses(blob)
    try:
        text = blob.decode('utf-8')
    except UnicodeDecodeError:
        return
    _loads_or_refuses(text)


@given(st.data())
def test_mutated_sample_bytes(data):
    blob = bytearray(SAMPLE_TEXT)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos:pos + data.draw(st.integers(0, 3))] = data.draw(
            st.binary(max_size=4))
    _loads_or_refuses(bytes(blob))
