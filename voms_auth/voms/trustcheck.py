"""A read-only audit of the trust material, for ``voms-auth check-trust``.

:func:`audit` returns every :class:`~voms_auth.voms.problems.Problem` of a
:class:`~voms_auth.voms.TrustStore`: those found when it loads
(:attr:`TrustSnapshot.problems`: CAs without CRL, partial chains,
unreadable files, policy files that do not parse, LSC files in the wrong
form, VO directories without LSC or certificate) and those that depend on
the time of the check: CAs, VOMS server certificates and CRLs that have
expired or are about to, CRLs in their grace period, CRLs that are not
used (bad signature, delta, ...), LSC lines naming a CA that is not in the
CA directory.
"""

from __future__ import annotations

import datetime
from typing import List, Optional

from voms_auth.voms import crl as crl_rules
from voms_auth.voms.names import normalize_dn, slash_dn
from voms_auth.voms.problems import Problem

UTC = datetime.timezone.utc
CA_WARNING = datetime.timedelta(days=30)
CRL_WARNING = datetime.timedelta(hours=12)
FIX_LSC_CA = ('install the CA in the CA directory, or correct the line '
              'with: openssl x509 -noout -subject -issuer -nameopt compat '
              '-in <VOMS server certificate>')


def audit(store, now: Optional[datetime.datetime] = None, *,
          ca_warning: datetime.timedelta = CA_WARNING,
          crl_warning: datetime.timedelta = CRL_WARNING) -> List[Problem]:
    """Every problem of ``store``'s trust material as of ``now``: the
    load-time ones first, then the time-dependent ones.

    :param ca_warning: a CA or VOMS server certificate ending within this
        period is a warning.
    :param crl_warning: a CRL whose nextUpdate is within this period is a
        warning (fetch-crl should have replaced it by then).
    :raises TrustStoreError: a trust directory is missing or unreadable.
    """
    now = now or datetime.datetime.now(UTC)
    snap = store.snapshot()
    found = [p if isinstance(p, Problem) else Problem.error(p)
             for p in snap.problems]
    cas = [c for certs in snap.ca_by_subject.values() for c in certs]
    for cert in cas:
        found.extend(_validity('the CA', cert, now, ca_warning,
                               'its users are refused; update the CA '
                               'distribution'))
    for certs in snap.ca_by_subject.values():
        found.extend(_crl_problems(store, snap, certs[0], now, crl_warning))
    ca_dns = {normalize_dn(slash_dn(c.subject)) for c in cas}
    for vo_dir in snap.vos.values():
        for cert in vo_dir.certificates:
            found.extend(_validity(
                'the VOMS server certificate in %s/%s' % (
                    store.vomsdir, vo_dir.name), cert, now, ca_warning,
                'ACs of VO %s signed with it are refused' % vo_dir.name))
        for lsc in vo_dir.lsc:
            found.extend(_lsc_cas(lsc, ca_dns, store.ca_path))
    return found


def _validity(what, cert, now, warning, consequence):
    subject = slash_dn(cert.subject)
    end = cert.not_valid_after_utc
    if now > end:
        return [Problem.error('%s %s expired at %s: %s' % (
            what, subject, _time(end), consequence))]
    if now < cert.not_valid_before_utc:
        return [Problem.error('%s %s is not valid before %s: %s' % (
            what, subject, _time(cert.not_valid_before_utc), consequence))]
    if end - now < warning:
        return [Problem.warning('%s %s expires at %s (in %s)' % (
            what, subject, _time(end), _period(end - now)))]
    return []


def _crl_problems(store, snap, ca, now, warning):
    """The problems of the CRLs of ``ca`` (none at all is a load-time
    problem already)."""
    candidates = snap.crl_by_issuer.get(ca.subject.public_bytes(), ())
    if not candidates:
        return []
    subject = slash_dn(ca.subject)
    usable = snap.crls_for(ca)
    found = []
    for crl in candidates:
        if any(crl is u for u in usable):
            continue
        reason = crl_rules.unusable_reason(crl) or \
            "its signature does not verify with the CA's key"
        found.append(Problem.error(
            'a CRL of the CA %s (%s.r*) is not used: %s' % (
                subject, snap.crl_file_hash.get(id(crl), '?'), reason)))
    if not usable:
        found.append(Problem.error(
            'the CA %s has no usable CRL in %s: its users are refused; run '
            'fetch-crl' % (subject, store.ca_path)))
        return found
    newest = usable[-1]
    ca_hash = snap.crl_file_hash.get(id(newest), '?')
    in_force = [c for c in usable
                if crl_rules.in_force(c, now, store.clock_skew)]
    if not in_force:
        found.append(Problem.error(
            'the CRL of the CA %s (%s.r*) is dated in the future (%s): its '
            'users are refused; check this machine\'s clock' % (
                subject, ca_hash, _time(newest.last_update_utc))))
        return found
    if newest is not in_force[-1]:
        found.append(Problem.warning(
            'the newest CRL of the CA %s (%s.r*) is dated in the future '
            '(%s) and not used yet: check this machine\'s clock' % (
                subject, ca_hash, _time(newest.last_update_utc))))
    ends = [c.next_update_utc for c in in_force]
    if None in ends:
        return found
    end = max(ends)
    if now > end:
        grace = store.crl_grace(ca_hash)
        if now <= end + grace:
            found.append(Problem.warning(
                'the CRL of the CA %s (%s.r*) expired at %s and is IN GRACE '
                'until %s: run fetch-crl' % (subject, ca_hash, _time(end),
                                             _time(end + grace))))
        elif store.allow_expired_crl:
            found.append(Problem.warning(
                'the CRL of the CA %s (%s.r*) expired at %s; it is still '
                'used because expired CRLs are allowed: run fetch-crl'
                % (subject, ca_hash, _time(end))))
        else:
            found.append(Problem.error(
                'the CRL of the CA %s (%s.r*) expired at %s%s: its users '
                'are refused; run fetch-crl' % (
                    subject, ca_hash, _time(end),
                    ' (grace period ended at %s)' % _time(end + grace)
                    if grace else '')))
    elif end - now < warning:
        found.append(Problem.warning(
            'the CRL of the CA %s (%s.r*) expires at %s (in %s): is '
            'fetch-crl running?' % (subject, ca_hash, _time(end),
                                    _period(end - now))))
    return found


def _lsc_cas(lsc, ca_dns, ca_path):
    """LSC lines (after the server DN) naming a CA that is not in the CA
    directory: the server's certificate cannot chain to it."""
    found = []
    numbers = lsc.line_numbers or [()] * len(lsc.chains)
    for chain, lines in zip(lsc.chains, numbers, strict=False):
        for index, dn in enumerate(chain[1:], 1):
            if dn.startswith('/') and dn not in ca_dns:
                found.append(Problem.error(
                    '%s line %s names the CA %s, which is not in %s: %s' % (
                        lsc.path, lines[index] if index < len(lines)
                        else '?', dn, ca_path, FIX_LSC_CA)))
    return found


def _time(when):
    return when.strftime('%Y-%m-%dT%H:%M:%SZ')


def _period(delta):
    seconds = max(int(delta.total_seconds()), 0)
    if seconds >= 2 * 86400:
        return '%d days' % (seconds // 86400)
    if seconds >= 2 * 3600:
        return '%d hours' % (seconds // 3600)
    return '%d minutes' % (seconds // 60)
