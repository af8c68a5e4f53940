"""A readable page for a WebSSO sign-in Keystone refuses.

Keystone answers a refused login on its WebSSO URLs
(``/v3/auth/OS-FEDERATION/websso/{protocol}`` and
``/v3/auth/OS-FEDERATION/identity_providers/{idp}/protocols/{protocol}/
websso``) with its JSON error body, which a browser shows as raw JSON.
:func:`refusal_page` (a Flask ``after_request`` hook) turns such an answer,
for a browser that asks for HTML, into a small HTML page with the same
status and the same reason, and a link back to the dashboard when the
request's ``origin`` is one of ``[federation] trusted_dashboard``. Every
other response is left alone.
"""

import html
import json
import re
import urllib.parse

import flask
import keystone.conf

CONF = keystone.conf.CONF

_WEBSSO_PATH = re.compile(
    r'^/v3/auth/OS-FEDERATION/(?:websso/[^/]+|identity_providers/[^/]+/'
    r'protocols/[^/]+/websso)/?$')

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Sign-in refused</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:4em auto}}
.reason{{background:#fdecea;border-left:4px solid #b00;padding:.8em}}</style>
</head><body>
<h1>Sign-in refused</h1>
<p>The cloud did not let you in (HTTP {status} {title}):</p>
<p class="reason" id="reason">{reason}</p>
{back}
</body></html>
"""


def _wants_html(request):
    accept = request.accept_mimetypes
    return accept.best_match(['application/json', 'text/html']) == \
        'text/html'


def _dashboard_link(request):
    """A link to the dashboard's login page when ``origin`` is trusted."""
    origin = request.args.get('origin')
    if not origin:
        return ''
    origin = urllib.parse.unquote_plus(origin)
    if origin not in CONF.federation.trusted_dashboard:
        return ''
    parts = urllib.parse.urlsplit(origin)
    path = parts.path.rstrip('/')
    # Horizon's websso URL is <WEBROOT>auth/websso/; its login page is
    # <WEBROOT>auth/login/.
    path = (path[:-len('websso')] + 'login/' if path.endswith('/websso')
            else '/')
    login = urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, path, '', ''))
    return '<p><a id="back" href="%s">Back to the dashboard</a></p>' % (
        html.escape(login, quote=True))


def refusal_page(response):
    """``after_request`` hook: Keystone's JSON error on a WebSSO URL, as a
    readable HTML page for browsers (same status, same reason)."""
    request = flask.request
    if (response.status_code < 400
            or not _WEBSSO_PATH.match(request.path)
            or not response.is_json
            or not _wants_html(request)):
        return response
    try:
        error = json.loads(response.get_data(as_text=True))['error']
        reason = str(error['message'])
    except (ValueError, KeyError, TypeError):
        return response
    response.set_data(_PAGE.format(
        status=response.status_code,
        title=html.escape(str(error.get('title') or '')),
        reason=html.escape(reason), back=_dashboard_link(request)))
    response.content_type = 'text/html; charset=utf-8'
    return response
