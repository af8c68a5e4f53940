"""Memberships from token claims: entitlements, WLCG groups, plain groups.

Every function returns the same :class:`~voms_auth.identity.Membership`
shape a VOMS FQAN gives (vo, group path, role), so a person reaches the same
projects with a token as with a proxy.

* ``eduperson_entitlement`` values follow AARC-G002 / AARC-G069
  (``urn:<nid>:<namespace>[:<sub>...]:group:<vo>[:<sub>...][:role=<r>]``
  ``[#<authority>]``). They are parsed with the maintained
  ``aarc-entitlement`` library (its G069 class accepts both forms); values
  that are not group memberships (resource capabilities, junk) give
  ``None``.
* ``wlcg.groups`` values (WLCG Common JWT Profile) are group paths
  ``/cms/uscms``; a role, when an issuer states one, uses the FQAN suffix
  ``/Role=<role>`` (``/cms/uscms/Role=production``).
* a plain ``groups`` claim holds ``vo[/sub...]`` paths, with or without the
  leading ``/``.
"""

import functools
import logging
import urllib.parse

import aarc_entitlement

from voms_auth import identity

LOG = logging.getLogger(__name__)

class InvalidGroupName(ValueError):
    """A ``wlcg.groups`` or ``groups`` value is not a usable group path."""


def _clean_element(text):
    """Percent-decode one entitlement element; ``None`` when it breaks the
    name grammar of :mod:`voms_auth.identity`."""
    value = urllib.parse.unquote(text)
    return value if identity.is_vo_name(value) else None


def parse_entitlement(text):
    """The membership an AARC-G002/G069 group entitlement states, or ``None``.

    ``urn:mace:egi.eu:group:vo.example.org:sub:role=member#aai.egi.eu``
    gives vo ``vo.example.org``, group ``/vo.example.org/sub``, role
    ``member``. Percent-encoded elements are decoded; an element that
    decodes to something the name grammar of :mod:`voms_auth.identity`
    refuses (empty, ``..``, ``/``, white space, control characters) makes
    the whole entitlement ``None``. Never raises: junk,
    non-strings and non-group entitlements give ``None``. Results are
    memoised (the inputs are immutable strings, the outputs frozen).
    """
    return _parsed(text)[0]


def entitlement_key(text):
    """``(parts, authority)`` of an AARC-G002/G069 entitlement, or ``None``.

    ``parts`` are aarc-entitlement's normalised parts without the
    ``#authority``: what its ``==`` compares (here the parts themselves, so
    no hash collision can make two equal); ``authority`` is the
    ``#authority`` or ``None``. Never raises; memoised together with
    :func:`parse_entitlement` (one parse per value).
    """
    return _parsed(text)[1]


def _parsed(text):
    """``(membership, key)`` of an entitlement; each may be ``None``."""
    if not isinstance(text, str) or len(text) > 1024:
        return None, None
    return _parse_once(text)


@functools.lru_cache(maxsize=4096)
def _parse_once(text):
    """The one memoised aarc-entitlement parse of ``text``."""
    try:
        ent = aarc_entitlement.G069(text)
    except aarc_entitlement.Error:
        return None, None
    except Exception:  # noqa: BLE001 - a parser bug must not leak out
        LOG.debug('entitlement parser failed on a value', exc_info=True)
        return None, None
    return _membership(ent, text), _key(ent)


def _key(ent):
    """:func:`entitlement_key` of a parsed entitlement."""
    try:
        parts = tuple(ent.get_part(key) for key in aarc_entitlement.KEYS_ALL
                      if key != aarc_entitlement.KEY.GROUP_AUTHORITY)
    except Exception:  # noqa: BLE001 - unparsable means "no key"
        return None
    return parts, ent.group_authority


def _membership(ent, text):
    """The membership of a parsed entitlement, or ``None``."""
    elements = [_clean_element(e) for e in (ent.group, *ent.subgroups)]
    if any(e is None for e in elements):
        return None
    role = None
    if ent.role is not None:
        role = _clean_element(ent.role)
        if role is None:
            return None
    try:
        return identity.Membership(vo=elements[0],
                                   group='/' + '/'.join(elements),
                                   role=role, source=text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _parse_path(text, require_slash):
    if len(text) > 1024:
        raise InvalidGroupName('group name is longer than 1024 characters')
    path = text
    if path.startswith('/'):
        path = path[1:]
    elif require_slash:
        raise InvalidGroupName('group %r does not start with "/"' % (text,))
    parts = path.split('/')
    role = None
    if parts and parts[-1].startswith('Role='):
        role = parts.pop()[len('Role='):]
        if role in ('', 'NULL'):
            role = None
    if not parts or not identity.is_group_path('/' + '/'.join(parts)):
        raise InvalidGroupName('group %r has an empty or malformed path'
                               % (text,))
    if role is not None and not identity.is_role_name(role):
        raise InvalidGroupName('group %r has a malformed role' % (text,))
    try:
        return identity.Membership(vo=parts[0], group='/' + '/'.join(parts),
                                   role=role, source=text)
    except ValueError as exc:
        raise InvalidGroupName('group %r: %s' % (text, exc)) from None


def parse_wlcg_group(text):
    """The membership a WLCG ``wlcg.groups`` value states.

    ``/cms`` and ``/cms/uscms`` have no role; ``/cms/uscms/Role=production``
    has role ``production`` (``Role=NULL`` means none).

    :raises InvalidGroupName: when ``text`` is not an absolute group path.
    """
    if not isinstance(text, str):
        raise InvalidGroupName('group %r is not a string' % (text,))
    return _parse_path(text, True)


def parse_plain_group(text):
    """The membership a plain ``groups`` claim value states.

    Like :func:`parse_wlcg_group`, but the leading ``/`` is optional
    (``dteam/sub`` and ``/dteam/sub`` are the same group).

    :raises InvalidGroupName: when ``text`` is not a usable group path.
    """
    if not isinstance(text, str):
        raise InvalidGroupName('group %r is not a string' % (text,))
    return _parse_path(text, False)
