"""WSGI entry point: Keystone's public API with voms-auth in front.

The counterpart of Keystone's own ``keystone.wsgi.api``: point Apache's
``WSGIScriptAlias`` at this file, or a WSGI server at
``voms_auth.keystone.wsgi_api:application``. The application is built when
the module is imported if the process environment
(``OS_KEYSTONE_CONFIG_FILES`` / ``OS_KEYSTONE_CONFIG_DIR``) or
``/etc/keystone/keystone.conf`` names the configuration, else at the first
request from that request's environ (Apache ``SetEnv`` under mod_wsgi); see
:func:`voms_auth.keystone.wsgi.application_from_environment`.
"""

from voms_auth.keystone import wsgi

application = wsgi.application_from_environment()
