"""Small helpers shared by the servers the tests start on 127.0.0.1."""

import shutil
import socket


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def tail_files(paths, chars=4000):
    """``== path ==`` and the last ``chars`` characters of each readable
    file, for error messages."""
    parts = []
    for path in paths:
        try:
            parts.append('== %s ==\n%s' % (
                path, path.read_text(errors='replace')[-chars:]))
        except OSError:
            continue
    return '\n'.join(parts)


def debian_binary(name, unavailable):
    """Path of the program ``name`` from the Debian package of that name
    (found on PATH or in /usr/sbin, /usr/bin).

    :raises unavailable: (an exception class) it is not installed.
    """
    found = shutil.which(name) or shutil.which(name, path='/usr/sbin:/usr/bin')
    if not found:
        raise unavailable('%s is not installed (Debian package %s; '
                          'tools/install-deps.sh)' % (name, name))
    return found


def unavailable_reason(name, unavailable):
    """Why the Debian program ``name`` cannot run here (the message of
    :func:`debian_binary`'s ``unavailable``), or ``None``."""
    try:
        debian_binary(name, unavailable)
    except unavailable as exc:
        return str(exc)
    return None
