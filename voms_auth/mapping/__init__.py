"""The mapping file: an :class:`~voms_auth.identity.Identity` to Keystone
projects and roles. Imports nothing from Keystone.

See ``doc/source/mapping.rst`` for the format.
"""

from voms_auth.mapping.errors import MappingError
from voms_auth.mapping.legacy import convert as convert_legacy
from voms_auth.mapping.loader import load_mapping, parse_mapping, schema
from voms_auth.mapping.model import (
    FORMAT_LEGACY,
    FORMAT_V1,
    Grant,
    Mapping,
    MappingResult,
    Match,
    Rule,
    RuleMatch,
)
from voms_auth.mapping.reload import MappingFile

__all__ = [
    'FORMAT_LEGACY', 'FORMAT_V1', 'Grant', 'Mapping', 'MappingError',
    'MappingFile', 'MappingResult', 'Match', 'Rule', 'RuleMatch',
    'convert_legacy', 'load_mapping', 'parse_mapping', 'schema',
]
