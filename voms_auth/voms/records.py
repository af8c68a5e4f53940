"""Building the frozen records a verification makes, at the cost of a
plain object.

A frozen dataclass's ``__init__`` sets each field through
``object.__setattr__`` (its own ``__setattr__`` refuses): 2.7 us for the
16 fields of an :class:`~voms_auth.voms.ac.AttributeCertificate`, against
0.4 us to fill the instance's ``__dict__`` at once. A verification builds
three such records of 10-16 fields (the AC, its VerifiedAC, the
VomsCredential): ~5 us of ~300 (issue 15).
"""

from typing import Any, Dict, Type, TypeVar

T = TypeVar('T')


def built(cls: Type[T], fields: Dict[str, Any]) -> T:
    """What ``cls(**fields)`` gives for the frozen dataclass ``cls``
    (without ``__slots__``), ``fields`` naming every one of its fields:
    the same, equal instance, made without ``__init__``. So no
    ``__post_init__`` runs: a caller building a record that has one
    checks what it checks itself.

    :raises TypeError: ``fields`` does not hold as many names as ``cls``
        has fields (a field added to ``cls`` and not to a caller; that
        the names are the fields' is checked by the tests of each caller,
        which compare with ``cls(**fields)``: comparing the names here
        costs as much as the rest).
    """
    if len(fields) != len(cls.__dataclass_fields__):
        raise TypeError('%s has %d fields, %d were given' % (
            cls.__name__, len(cls.__dataclass_fields__), len(fields)))
    record = object.__new__(cls)
    record.__dict__.update(fields)
    return record
