"""The frozen records a verification builds without their ``__init__``
(:func:`voms_auth.voms.records.built`) are the records their constructor
builds: same type, same fields, equal, still frozen."""

import dataclasses
import datetime

import pytest
from cryptography import x509

from voms_auth.voms import ac, credential, records

UTC = datetime.timezone.utc


def as_constructed(record):
    """``record`` rebuilt by its class's constructor from its fields (a
    field it lacks raises AttributeError here)."""
    cls = type(record)
    return cls(**{f.name: getattr(record, f.name)
                  for f in dataclasses.fields(cls)})


def assert_constructor_equal(record):
    again = as_constructed(record)
    assert type(again) is type(record)
    assert again == record
    # nothing beside the fields (a misspelt name would be an extra one)
    names = {f.name for f in dataclasses.fields(record)}
    assert set(vars(record)) == names
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, next(iter(names)), None)


def test_a_verification_builds_the_records_its_constructors_would(
        world, pki, verifier):
    path = pki.make_proxy(world.jane, fqans=['/dteam', '/dteam/x'])
    cred = verifier.verify_pem(path.read_bytes())
    assert_constructor_equal(cred)
    for verified in cred.acs:
        assert_constructor_equal(verified)
    assert cred.fqans == ('/dteam', '/dteam/x')


def test_a_decoded_ac_is_the_record_its_constructor_would_build(
        world, pki):
    path = pki.make_proxy(world.jane, fqans=['/dteam'])
    proxy = x509.load_pem_x509_certificate(path.read_bytes())
    value = proxy.extensions.get_extension_for_oid(
        ac.OID_VOMS_ACS).value.value
    for _ in range(2):          # decoded, then from the stable-part memo
        (attribute_cert,) = ac.parse_acs(value)
        assert_constructor_equal(attribute_cert)
        assert attribute_cert.fqans == ('/dteam',)


def test_built_refuses_fields_that_do_not_fit():
    now = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    fields = dict(vo='dteam', fqans=('/dteam',), server='/CN=s',
                  server_ca='/CN=ca', uri='voms.example:15000',
                  not_before=now, not_after=now, serial=1, targets=None,
                  generic_attributes=())
    made = records.built(credential.VerifiedAC, fields)
    assert made == credential.VerifiedAC(**fields)
    del fields['uri']
    with pytest.raises(TypeError, match='VerifiedAC has 10 fields, 9'):
        records.built(credential.VerifiedAC, fields)
