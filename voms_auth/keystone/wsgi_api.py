"""WSGI entry point: Keystone's public API with voms-auth in front.

The counterpart of Keystone's own ``keystone.wsgi.api``: point Apache's
``WSGIScriptAlias`` at this file, or a WSGI server at
``voms_auth.keystone.wsgi_api:application``. The application is built when
the module is imported.
"""

import threading

from voms_auth.keystone import wsgi

application = None
_lock = threading.Lock()
with _lock:
    if application is None:
        application = wsgi.initialize_application()
