"""``voms-auth`` command line.

Every module in this package that defines ``register(subparsers)`` adds its
sub-commands. A handler takes the parsed arguments and returns an exit code;
the errors it raises are turned into the documented exit codes here:

* 0 - success;
* 1 - a credential (or mapping file, for ``mapping check``) was refused:
  :class:`~voms_auth.errors.CredentialError`;
* 2 - usage or configuration error:
  :class:`~voms_auth.errors.ConfigurationError` or a bad command line.

Errors are printed as one line ``error: <reason>`` on stderr, never as a
traceback (``VOMS_AUTH_DEBUG=1`` adds one, for developers); Python
warnings as one line ``warning: <text>`` each.
"""

import argparse
import importlib
import json
import os
import pkgutil
import sys
import traceback
import warnings

from voms_auth import errors

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


class UsageError(errors.ConfigurationError):
    """The command line is wrong (exit 2)."""


def print_json(obj, stream=None):
    """Write ``obj`` as one JSON document followed by a newline."""
    stream = stream or sys.stdout
    stream.write(json.dumps(obj, indent=2, sort_keys=False) + '\n')
    stream.flush()


def read_input(path, mode='r'):
    """Read FILE or stdin (``-``); unreadable files are usage errors."""
    if path == '-':
        stream = sys.stdin.buffer if 'b' in mode else sys.stdin
        return stream.read()
    try:
        with open(path, mode) as handle:
            return handle.read()
    except OSError as exc:
        raise UsageError('cannot read %s: %s'
                         % (path, exc.strerror or exc)) from None


def _command_modules():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module('%s.%s' % (__name__, info.name))
        if hasattr(module, 'register'):
            yield module


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write('error: %s\n' % message)
        sys.exit(EXIT_USAGE)


def build_parser():
    parser = _Parser(
        prog='voms-auth',
        description='Verify grid credentials (VOMS proxies, OIDC access '
                    'tokens) and the mapping that turns them into Keystone '
                    'projects and roles.')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND',
                                       parser_class=_Parser)
    subparsers.required = True
    for module in _command_modules():
        module.register(subparsers)
    return parser


def _fail(code, message):
    sys.stderr.write('error: %s\n' % ' '.join(str(message).split()))
    if os.environ.get('VOMS_AUTH_DEBUG'):
        traceback.print_exc()
    return code


def _show_warning(message, category, filename, lineno, file=None,
                  line=None):
    """Python warnings (``cryptography`` warns about odd names in a
    certificate it still decodes) as one line ``warning: <text>`` on
    stderr, not the interpreter's two lines quoting our source."""
    sys.stderr.write('warning: %s\n' % ' '.join(str(message).split()))


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _run(args)


def _run(args):
    try:
        return args.func(args) or EXIT_OK
    except errors.CredentialError as exc:
        return _fail(EXIT_REFUSED, exc)
    except errors.ConfigurationError as exc:
        return _fail(EXIT_USAGE, exc)
    except KeyboardInterrupt:
        return _fail(EXIT_USAGE, 'interrupted')
    except Exception as exc:  # noqa: BLE001 - fail closed, never a traceback
        return _fail(EXIT_REFUSED, 'internal error (%s): %s'
                     % (type(exc).__name__, exc))


if __name__ == '__main__':
    sys.exit(main())
