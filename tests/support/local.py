"""Small helpers shared by the servers the tests start on 127.0.0.1."""

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
