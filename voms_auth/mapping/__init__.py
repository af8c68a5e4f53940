"""The mapping file: an :class:`~voms_auth.identity.Identity` to Keystone
projects and roles. Imports nothing from Keystone.

See ``doc/source/mapping.rst`` for the format.
"""

from voms_auth.mapping.errors import MappingError
from voms_auth.mapping.legacy import LegacyMapping
from voms_auth.mapping.legacy import convert as convert_legacy
from voms_auth.mapping.loader import load_mapping, parse_mapping, schema
from voms_auth.mapping.model import (
    APPROVAL_LISTED,
    APPROVAL_NOT_LISTED,
    FORMAT_LEGACY,
    FORMAT_V1,
    Approval,
    Deny,
    DenyMatch,
    Grant,
    Mapping,
    MappingResult,
    Match,
    Person,
    Rule,
    RuleMatch,
)
from voms_auth.mapping.privilege import is_cloud_admin
from voms_auth.mapping.reload import MappingFile

__all__ = [
    'APPROVAL_LISTED', 'APPROVAL_NOT_LISTED', 'Approval', 'Deny',
    'DenyMatch', 'FORMAT_LEGACY', 'FORMAT_V1', 'Grant', 'LegacyMapping',
    'Mapping', 'MappingError', 'MappingFile', 'MappingResult', 'Match',
    'Person', 'Rule', 'RuleMatch', 'convert_legacy', 'is_cloud_admin',
    'load_mapping', 'parse_mapping', 'schema',
]
