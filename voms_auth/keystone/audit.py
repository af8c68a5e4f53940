"""CADF ``identity.authenticate`` events for grid logins.

Sent through Keystone's notifier like its federation events, with the
credential kind as the credential type and the token issuer or user's CA as
the identity provider. Keystone opts out of successful authenticate events
by default (``[DEFAULT] notification_opt_out``); failures are sent.
"""

import logging

from keystone import notifications
from pycadf import cadftaxonomy as taxonomy
from pycadf import credential, host, resource
from pycadf import reason as cadf_reason

LOG = logging.getLogger(__name__)

EVENT_TYPE = 'identity.authenticate'


def send(outcome, method, environ, user_id=None, issuer=None, reason=None):
    """Emit one authenticate event; never raises.

    :param outcome: ``pycadf.cadftaxonomy.OUTCOME_SUCCESS`` or ``_FAILURE``.
    :param method: ``voms`` or ``oidc``.
    :param environ: the request's WSGI environ (client address, agent).
    :param reason: the refusal reason, for failures.
    """
    try:
        initiator = resource.Resource(typeURI=taxonomy.ACCOUNT_USER)
        initiator.host = host.Host(
            address=environ.get('REMOTE_ADDR') or taxonomy.UNKNOWN,
            agent=environ.get('HTTP_USER_AGENT') or taxonomy.UNKNOWN)
        initiator.credential = credential.FederatedCredential(
            token=taxonomy.UNKNOWN, type='voms-auth:%s' % method,
            identity_provider=issuer or taxonomy.UNKNOWN,
            user=user_id or taxonomy.UNKNOWN, groups=[])
        if user_id:
            initiator.user_id = user_id
        why = None
        if reason:
            why = cadf_reason.Reason(reasonType=str(reason),
                                     reasonCode='401')
        target = resource.Resource(typeURI=taxonomy.ACCOUNT_USER)
        # Keystone offers no public helper for an authenticate event with
        # a reason and our credential type; this is the one its own
        # authenticate and federation events go through.
        notifications._send_audit_notification(
            'authenticate', initiator, outcome, target, EVENT_TYPE,
            reason=why)
    except Exception:  # noqa: BLE001 - auditing must not break login
        LOG.exception('could not send the CADF authenticate event')

