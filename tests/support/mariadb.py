"""A private MariaDB server for tests: own datadir, socket and port.

Debian's ``mariadb-server`` package provides the binaries; the system
service (``/var/lib/mysql``, ``/run/mysqld``) is never touched.
:class:`MariaDB` initialises a fresh data directory under ``directory`` with
``mariadb-install-db --no-defaults``, runs ``mariadbd --no-defaults`` on a
unix socket inside ``directory`` and on ``127.0.0.1`` only (a random free
port), sets a random root password, and hands out databases with their own
password-protected account::

    with MariaDB(tmp / 'mariadb') as server:
        url = server.create_database('keystone')
        # mysql+pymysql://keystone:<pw>@127.0.0.1:<port>/keystone?charset=utf8mb4

The server runs with Debian's own defaults (``/etc/mysql/mariadb.conf.d/
50-server.cnf``): ``character-set-server = utf8mb4``, ``collation-server =
utf8mb4_general_ci``. That collation compares case- and accent-insensitively
(``'José' = 'jose'``), as on a site's Keystone database: the very thing
that tests on SQLite cannot show. :meth:`MariaDB.create_database` checks it.

Use the pytest fixture :func:`mariadb` (session-scoped; import it into a
``conftest.py``: ``from tests.support.mariadb import mariadb``). It skips
when ``mariadbd`` is not installed, and fails instead under ``CI=true``.
"""

from __future__ import annotations

import atexit
import logging
import os
import pathlib
import secrets
import shutil
import signal
import subprocess
import time

import pytest

from tests.support import local

LOG = logging.getLogger(__name__)

#: Debian's server defaults (mariadb.conf.d/50-server.cnf).
CHARACTER_SET = 'utf8mb4'
COLLATION = 'utf8mb4_general_ci'


class MariaDBUnavailable(RuntimeError):
    """The MariaDB server binaries are not installed here."""


class MariaDBStartError(RuntimeError):
    """The private server could not be initialised or did not come up."""


def _binary(*names):
    for name in names:
        found = shutil.which(name) or shutil.which(name, path='/usr/sbin')
        if found:
            return found
    return None


def server_binary():
    found = _binary('mariadbd', 'mysqld')
    if not found:
        raise MariaDBUnavailable('mariadbd is not installed (Debian package '
                                 'mariadb-server; tools/install-deps.sh)')
    return found


def install_db_binary():
    found = _binary('mariadb-install-db', 'mysql_install_db')
    if not found:
        raise MariaDBUnavailable('mariadb-install-db is not installed '
                                 '(Debian package mariadb-server)')
    return found


def unavailable_reason():
    """Why a private MariaDB cannot run here (its binaries are missing),
    or None. A missing PyMySQL is an error of the test environment, not a
    reason to skip."""
    try:
        server_binary()
        install_db_binary()
    except MariaDBUnavailable as exc:
        return str(exc)
    return None


class MariaDB:
    """A MariaDB server of its own in ``directory`` (created).

    :param directory: holds ``data/``, ``mariadb.sock``, ``mariadb.pid``
        and ``error.log``.
    :param port: TCP port on 127.0.0.1 (default: a free one).
    :param options: further ``mariadbd`` command-line options.

    Started as root, the server runs as root (``--user=root``): the data
    directory is this harness's, not the ``mysql`` account's.
    """

    def __init__(self, directory, *, port=None, options=()):
        self.directory = pathlib.Path(directory)
        self.datadir = self.directory / 'data'
        self.socket = self.directory / 'mariadb.sock'
        self.pid_file = self.directory / 'mariadb.pid'
        self.error_log = self.directory / 'error.log'
        self.host = '127.0.0.1'
        self.port = port or local.free_port()
        self.options = list(options)
        self.root_password = secrets.token_urlsafe(18)
        self.process = None
        self._initialised = False

    # -- life cycle ---------------------------------------------------------
    def _user_args(self):
        return ['--user=root'] if os.geteuid() == 0 else []

    def _install(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.datadir.exists():
            shutil.rmtree(self.datadir)
        proc = subprocess.run(
            [install_db_binary(), '--no-defaults',
             '--datadir=%s' % self.datadir,
             '--auth-root-authentication-method=normal',
             '--skip-test-db', '--skip-name-resolve', *self._user_args()],
            capture_output=True, text=True, timeout=120, check=False,
            cwd=self.directory)
        if proc.returncode != 0:
            raise MariaDBStartError(
                'mariadb-install-db failed (%d):\n%s' % (
                    proc.returncode, (proc.stdout + proc.stderr)[-3000:]))

    def start(self, timeout=60):
        """Initialise the data directory (the first time), start the
        server, wait for it. After :meth:`stop` or :meth:`kill` this
        restarts the server on its data, port and passwords."""
        if self.process is not None:
            return self
        reason = unavailable_reason()
        if reason:
            raise MariaDBUnavailable(reason)
        import pymysql  # noqa: F401 - test-requirements.txt
        if not self._initialised:
            self._install()
        args = [server_binary(), '--no-defaults',
                '--datadir=%s' % self.datadir,
                '--socket=%s' % self.socket,
                '--pid-file=%s' % self.pid_file,
                '--log-error=%s' % self.error_log,
                '--bind-address=%s' % self.host,
                '--port=%d' % self.port,
                '--character-set-server=%s' % CHARACTER_SET,
                '--collation-server=%s' % COLLATION,
                '--skip-name-resolve',
                # Throwaway data: trade durability for speed.
                '--innodb-flush-log-at-trx-commit=2',
                '--innodb-buffer-pool-size=128M',
                '--max-connections=500',
                *self._user_args(), *self.options]
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=self.directory)
        atexit.register(self.stop)
        try:
            self._wait(timeout)
            if not self._initialised:
                self._secure()
        except Exception:
            self.stop()
            raise
        LOG.info('private MariaDB on %s:%d (socket %s)', self.host,
                 self.port, self.socket)
        return self

    def _wait(self, timeout):
        import pymysql

        deadline = time.monotonic() + timeout
        last = 'not started'
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise MariaDBStartError(
                    'mariadbd exited with status %d before accepting '
                    'connections\n%s' % (self.process.returncode,
                                         self.log_tail()))
            try:
                pymysql.connect(unix_socket=str(self.socket), user='root',
                                password=self.root_password
                                if self._initialised else '',
                                connect_timeout=2).close()
                return
            except pymysql.err.OperationalError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise MariaDBStartError(
            'mariadbd did not accept connections on %s within %ds (%s)\n%s'
            % (self.socket, timeout, last, self.log_tail()))

    def _secure(self):
        """Give root a password; drop anonymous and host-named accounts."""
        import pymysql

        conn = pymysql.connect(unix_socket=str(self.socket), user='root',
                               password='', autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT user, host FROM mysql.user")
                for user, host in cur.fetchall():
                    if user == 'root' and host == 'localhost':
                        continue
                    if user in ('', 'root') or host not in (
                            'localhost', '127.0.0.1', '::1'):
                        cur.execute('DROP USER %s@%s', (user, host))
                cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s",
                            (self.root_password,))
        finally:
            conn.close()
        self._initialised = True

    def stop(self, timeout=30):
        """Stop the server (SIGTERM, then SIGKILL) and wait for it."""
        process, self.process = self.process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                LOG.warning('mariadbd (pid %d) did not stop in %ds; killing '
                            'it', process.pid, timeout)
                process.kill()
                process.wait(10)

    def kill(self):
        """SIGKILL the server (a crash: InnoDB recovers at the next
        :meth:`start`)."""
        process, self.process = self.process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        process.kill()
        process.wait(10)

    def close(self, remove=True):
        """Stop the server and remove its directory."""
        self.stop()
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- databases ----------------------------------------------------------
    def connect(self, database=None, **kwargs):
        """A PyMySQL connection as root over the unix socket."""
        import pymysql

        kwargs.setdefault('autocommit', True)
        kwargs.setdefault('charset', 'utf8mb4')
        return pymysql.connect(unix_socket=str(self.socket), user='root',
                               password=self.root_password,
                               database=database, **kwargs)

    def query(self, sql, args=None, database=None):
        """Rows of one SQL statement run as root."""
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        finally:
            conn.close()

    def create_database(self, name, user=None, password=None):
        """Create database ``name`` (Debian's default character set and
        collation) and an account ``user`` (default ``name``) with a
        random password that may use it from 127.0.0.1; return its
        SQLAlchemy URL."""
        if self.process is None:
            raise MariaDBStartError('the server is not running')
        if not name.replace('_', '').isalnum():
            raise ValueError('database name %r: use letters, digits and _'
                             % name)
        user = user or name
        password = password or secrets.token_urlsafe(18)
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute('CREATE DATABASE `%s` CHARACTER SET %s COLLATE %s'
                            % (name, CHARACTER_SET, COLLATION))
                for host in ('127.0.0.1', 'localhost'):
                    cur.execute("CREATE USER %s@%s IDENTIFIED BY %s",
                                (user, host, password))
                    cur.execute('GRANT ALL PRIVILEGES ON `%s`.* TO %%s@%%s'
                                % name, (user, host))
        finally:
            conn.close()
        return 'mysql+pymysql://%s:%s@%s:%d/%s?charset=utf8mb4' % (
            user, password, self.host, self.port, name)

    # -- diagnostics --------------------------------------------------------
    def log_tail(self, chars=4000):
        try:
            text = self.error_log.read_text(errors='replace')
        except OSError:
            return '(no error log at %s)' % self.error_log
        return '== %s ==\n%s' % (self.error_log, text[-chars:])


@pytest.fixture(scope='session')
def mariadb(tmp_path_factory):
    """A started private :class:`MariaDB`, shared by the test session.

    Skipped when the server is not installed, except under ``CI=true``,
    where a missing server is a failure.
    """
    reason = unavailable_reason()
    if reason:
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail('MariaDB is required under CI=true: %s' % reason)
        pytest.skip(reason)
    server = MariaDB(tmp_path_factory.mktemp('mariadb'))
    with server:
        yield server
