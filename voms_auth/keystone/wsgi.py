"""Keystone's public WSGI application with voms-auth's scope hook and
its WebSSO refusal page.

:func:`initialize_application` builds it; :mod:`voms_auth.keystone.wsgi_api`
holds a ready ``application`` for WSGI servers. Keystone reads its
configuration as usual (``OS_KEYSTONE_CONFIG_FILES`` /
``OS_KEYSTONE_CONFIG_DIR`` or ``/etc/keystone/keystone.conf``).
"""

import sys


def initialize_application(config_files=None):
    """Keystone's Flask application with :func:`voms_auth.keystone.handlers.
    provision_before_scope` installed.

    :param config_files: Keystone configuration files; by default those
        Keystone finds itself.
    """
    from keystone.server.flask import core as flask_core

    if config_files is None:
        config_files = flask_core._get_config_files()
    # Keystone parses sys.argv as its own command line; in a WSGI server
    # (or a test runner) those arguments belong to the host process.
    saved_argv = sys.argv
    sys.argv = saved_argv[:1]
    try:
        app = flask_core.initialize_application(
            name='public', config_files=config_files)
    finally:
        sys.argv = saved_argv
    import keystone.conf

    from voms_auth import conf as voms_conf
    from voms_auth.keystone import handlers, websso

    # Our options exist from the start (admin commands, early errors).
    voms_conf.register_opts(keystone.conf.CONF)

    # Keystone resolves the requested scope before it runs auth methods:
    # provision first, so projects the mapping creates exist by then.
    app.before_request(handlers.provision_before_scope)
    # A refused WebSSO sign-in reads as a page in the browser, not JSON.
    app.after_request(websso.refusal_page)
    return app
