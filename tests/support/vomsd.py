"""Real VOMS servers for tests: Debian's ``vomsd`` (``/usr/sbin/voms``,
package voms-server) with the MySQL plugin (voms-mysql-plugin) on a
private MariaDB, and the real ``voms-proxy-init`` asking them for ACs.

Why it is built this way (see FACTS.md):

* ``vomsd`` has no bind-address option (it listens on 0.0.0.0) and
  daemonises even with ``-foreground``: every VOMS server runs inside ONE
  private network namespace (:class:`NetworkNamespace`, ``unshare --net``
  with ``lo`` up), so it is reachable only on that namespace's 127.0.0.1;
  the clients run in the same namespace (``nsenter --net``). Each server is
  found by its unique log file in ``/proc`` and stopped by PID.
* ``voms_install_db`` writes into ``/etc/voms`` and, with OpenSSL 3, stores
  CA names in a form the plugin does not match: the schema
  (``/usr/share/voms/voms-mysql.data``) and the rows are loaded here, CA
  DNs in slash form.
* The password file must be mode 640 ("Wrong permissions of password
  file!").
* The clients need a ``vomses`` line per VO and the VO's LSC file
  (:class:`~tests.support.pki.GridPKI` writes it, slash form).

Use::

    with NetworkNamespace() as netns:
        dteam = VomsDaemon(mariadb, netns, pki, pki.voms_server, dir)
        dteam.add_user(user, ['/dteam', '/dteam/ops/Role=pilot'])
        dteam.start()
        proxy = proxy_init(netns, pki, user, [dteam], ['dteam'], out)
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
from typing import Iterable, Optional, Sequence

from tests.support import local

LOG = logging.getLogger(__name__)

VOMSD = '/usr/sbin/voms'
PLUGIN = '/usr/lib/voms/libvomsmysql.so'
SCHEMA = '/usr/share/voms/voms-mysql.data'
#: The rows voms_install_db puts in every VO database.
_BOOTSTRAP = """
INSERT INTO ca VALUES (1, '/O=VOMS/O=System/CN=Dummy Certificate Authority',
                       'dummy');
INSERT INTO ca VALUES (4, '/O=VOMS/O=System/CN=VOMS Role', 'role');
INSERT INTO admins VALUES (1,
  '/O=VOMS/O=System/CN=Local Database Administrator', '', 1);
INSERT INTO roles VALUES (1, 'VO-Admin');
INSERT INTO seqnumber VALUES ('00');
INSERT INTO version (version) VALUES (2);
"""


class VomsdUnavailable(RuntimeError):
    """vomsd, its MySQL plugin, unshare/nsenter or root are missing."""


class VomsdError(RuntimeError):
    """A VOMS server or client did not do what was asked."""


def unavailable_reason() -> Optional[str]:
    """Why real VOMS servers cannot run here, or ``None``."""
    for path, package in ((VOMSD, 'voms-server'),
                          (PLUGIN, 'voms-mysql-plugin'),
                          (SCHEMA, 'voms-mysql-plugin')):
        if not os.path.exists(path):
            return '%s is missing (Debian package %s)' % (path, package)
    for tool in ('unshare', 'nsenter', 'ip', 'voms-proxy-init'):
        if shutil.which(tool) is None:
            return '%s is not installed' % tool
    if os.geteuid() != 0:
        return 'a private network namespace needs root'
    return None


class NetworkNamespace:
    """A private network namespace with only ``lo`` (up), kept alive by a
    ``sleep`` holder process; :meth:`command` prefixes a command so that
    it runs inside."""

    def __init__(self):
        self.holder = None

    def start(self) -> NetworkNamespace:
        self.holder = subprocess.Popen(
            ['unshare', '--net', 'sh', '-c',
             'ip link set lo up && exec sleep 100000'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.holder.poll() is not None:
                raise VomsdError('unshare --net failed: %s'
                                 % self.holder.stderr.read().decode())
            if self._lo_up():
                return self
            time.sleep(0.05)
        raise VomsdError('the private namespace never brought lo up')

    def _lo_up(self):
        result = subprocess.run(self.command(['ip', '-o', 'link', 'show',
                                              'lo']),
                                capture_output=True, text=True, check=False)
        return 'UP' in result.stdout.split('>')[0]

    @property
    def path(self) -> str:
        """``/proc/<holder>/ns/net``."""
        return '/proc/%d/ns/net' % self.holder.pid

    def command(self, args: Sequence[str]) -> list:
        """``args`` run inside the namespace."""
        return ['nsenter', '--net=%s' % self.path, *args]

    def run(self, args, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault('capture_output', True)
        kwargs.setdefault('text', True)
        kwargs.setdefault('timeout', 120)
        kwargs.setdefault('check', False)
        return subprocess.run(self.command(args), **kwargs)

    def close(self):
        holder, self.holder = self.holder, None
        if holder is not None and holder.poll() is None:
            holder.kill()
            holder.wait(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class VomsDaemon:
    """One VO served by a real ``vomsd``: its own database on ``mariadb``
    (a started :class:`~tests.support.mariadb.MariaDB`), the VOMS host
    certificate of ``server`` (a :class:`~tests.support.pki.VomsServer`
    of ``pki``), listening on ``server.port`` inside ``netns``.

    Fill it with :meth:`add_user` before or after :meth:`start`; the
    plugin reads the database at every request, so changes (e.g.
    :meth:`remove_role`) count at the next ``voms-proxy-init``.
    """

    def __init__(self, mariadb, netns, pki, server, directory):
        self.mariadb = mariadb
        self.netns = netns
        self.pki = pki
        self.server = server
        self.vo = server.vo
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.database = 'voms_%s' % self.vo.replace('-', '_')
        self.account = ('v_%s' % self.vo.replace('-', '_'))[:32]
        self.password = secrets.token_hex(12)
        self.log_file = self.directory / ('vomsd-%s.log' % self.vo)
        self.pid = None
        self._users = {}
        self._groups = {}
        self._roles = {'VO-Admin': 1}
        self._attributes = {}
        self._create_database()

    # -- the VO database ----------------------------------------------------
    def execute(self, statement: str, args=()) -> None:
        """Run one SQL statement (``%s`` placeholders, ``args``) in this
        VO's database as root."""
        self.mariadb.query(statement, tuple(args), database=self.database)

    def sql(self, text: str) -> None:
        """Run a script of SQL statements (no parameters) in this VO's
        database as root (the ``mariadb`` client on the server's
        socket)."""
        result = subprocess.run(
            ['mariadb', '--no-defaults', '-S', str(self.mariadb.socket),
             '-uroot', '-p%s' % self.mariadb.root_password, self.database],
            input=text, capture_output=True, text=True, timeout=60,
            check=False)
        if result.returncode != 0:
            raise VomsdError('SQL failed in %s: %s' % (
                self.database, result.stderr.strip()))

    def _create_database(self):
        self.mariadb.query('CREATE DATABASE `%s`' % self.database)
        for host in ('localhost', '127.0.0.1'):
            self.mariadb.query('CREATE USER %s@%s IDENTIFIED BY %s',
                               (self.account, host, self.password))
            self.mariadb.query('GRANT SELECT, LOCK TABLES ON `%s`.* TO '
                               '%%s@%%s' % self.database,
                               (self.account, host))
        with open(SCHEMA, encoding='utf-8') as handle:
            self.sql(handle.read())
        self.sql(_BOOTSTRAP)
        # the trusted CAs, slash form (what the plugin compares)
        cas = [self.pki.root_ca, self.pki.issuing_ca]
        cas += [getattr(self.pki, 'rsa_ca', None)]
        self._ca_ids = {}
        for cid, ca in enumerate([c for c in cas if c is not None], 10):
            self.execute('INSERT INTO ca VALUES (%s, %s, %s)',
                         (cid, ca.dn, ca.dn))
            self._ca_ids[ca.dn] = cid
        self._group('/' + self.vo)

    def _group(self, path):
        if path not in self._groups:
            parent = path.rsplit('/', 1)[0]
            parent_id = self._group(parent) if parent.count('/') else None
            gid = len(self._groups) + 1
            self.execute('INSERT INTO `groups` VALUES (%s, %s, %s, %s)',
                         (gid, path, parent_id or gid, int(gid == 1)))
            self._groups[path] = gid
        return self._groups[path]

    def _role(self, name):
        if name not in self._roles:
            rid = len(self._roles) + 1
            self.execute('INSERT INTO roles VALUES (%s, %s)', (rid, name))
            self._roles[name] = rid
        return self._roles[name]

    def add_user(self, user, fqans: Iterable[str],
                 attributes: Optional[dict] = None) -> None:
        """Register ``user`` (a :class:`~tests.support.pki.User` of a CA
        of the PKI) with memberships ``fqans`` (``/vo/group`` or
        ``/vo/group/Role=r``; the VO group itself always) and user Generic
        Attributes ``attributes`` (name -> value)."""
        if user.dn not in self._users:
            uid = len(self._users) + 1
            self.execute('INSERT INTO usr VALUES (%s, %s, %s, %s, NULL, '
                         'NULL)', (uid, user.dn, self._ca_ids[user.ca_dn],
                                   user.cn))
            self._users[user.dn] = uid
            self._member(uid, '/' + self.vo, None)
        uid = self._users[user.dn]
        for fqan in fqans:
            group, _, role = fqan.partition('/Role=')
            self._member(uid, group, role or None)
        for name, value in (attributes or {}).items():
            if name not in self._attributes:
                self._attributes[name] = len(self._attributes) + 1
                self.execute('INSERT INTO attributes VALUES (%s, %s, NULL, '
                             '0)', (self._attributes[name], name))
            self.execute('INSERT INTO usr_attrs VALUES (%s, %s, %s)',
                         (self._attributes[name], uid, value))

    def _member(self, uid, group, role):
        gid = self._group(group)
        if role is not None:
            # a role is held in a group the user is a member of
            self._member(uid, group, None)
        rid = None if role is None else self._role(role)
        self.execute('INSERT IGNORE INTO m (userid, gid, rid, cid) VALUES '
                     '(%s, %s, %s, NULL)', (uid, gid, rid))

    def remove_role(self, user, group: str, role: str) -> None:
        """Take ``role`` in ``group`` away from ``user`` in the VO
        database (as a VO admin would)."""
        self.execute('DELETE FROM m WHERE userid = %s AND gid = %s AND '
                     'rid = %s', (self._users[user.dn], self._groups[group],
                                  self._roles[role]))

    # -- the server ---------------------------------------------------------
    def start(self, timeout=30) -> VomsDaemon:
        """Start vomsd inside the namespace and wait until it listens."""
        passfile = self.directory / ('%s.pass' % self.vo)
        passfile.write_text(self.password + '\n')
        passfile.chmod(0o640)
        args = [VOMSD, '-foreground', '-port', str(self.server.port),
                '-vo', self.vo, '-dbname', self.database,
                '-username', self.account, '-passfile', str(passfile),
                '-sqlloc', PLUGIN, '-mysql-socket', str(self.mariadb.socket),
                '-contactstring', 'localhost',
                '-x509_user_cert', str(self.server.cert_path),
                '-x509_user_key', str(self.server.key_path),
                '-x509_cert_dir', str(self.pki.ca_path),
                '-uri', self.server.uri, '-logfile', str(self.log_file),
                '-loglevel', '1']
        started = subprocess.Popen(
            self.netns.command(args), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pid = self._find_pid()
            if self.pid and self._listening():
                started.poll()
                atexit.register(self.stop)
                LOG.info('vomsd for %s: pid %d, port %d in %s', self.vo,
                         self.pid, self.server.port, self.netns.path)
                return self
            time.sleep(0.1)
        started.poll()
        self.stop()
        raise VomsdError('vomsd for %s did not listen on port %d within '
                         '%ds\n%s' % (self.vo, self.server.port, timeout,
                                      self.log_tail()))

    def _find_pid(self):
        """The PID of the vomsd writing :attr:`log_file` (it daemonises,
        so the process started is not the one that serves)."""
        marker = str(self.log_file).encode()
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                    cmdline = handle.read().split(b'\0')
            except OSError:
                continue
            if cmdline and cmdline[0] == VOMSD.encode() and marker in cmdline:
                return int(entry)
        return None

    def _listening(self):
        result = self.netns.run(['ss', '-Hltn', 'sport = :%d'
                                 % self.server.port])
        return 'LISTEN' in result.stdout

    def stop(self, timeout=10) -> None:
        """Stop vomsd by its PID (SIGTERM, then SIGKILL)."""
        atexit.unregister(self.stop)
        pid, self.pid = self.pid or self._find_pid(), None
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not os.path.exists('/proc/%d' % pid):
                return
            time.sleep(0.1)
        LOG.warning('vomsd (pid %d) ignored SIGTERM; killing it', pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def vomses_line(self) -> str:
        return '"%s" "127.0.0.1" "%d" "%s" "%s"\n' % (
            self.vo, self.server.port, self.server.dn, self.vo)

    def log_tail(self, chars=3000):
        return local.tail_files([self.log_file], chars)


def proxy_init(netns, pki, user, daemons: Sequence[VomsDaemon],
               voms: Sequence[str], out, *, order: Sequence[str] = (),
               hours: int = 12, extra: Sequence[str] = ()) -> pathlib.Path:
    """Run the real ``voms-proxy-init`` for ``user`` inside ``netns``:
    ``--voms`` each of ``voms`` (``vo`` or ``vo:/vo/group/Role=r``),
    ``--order`` each of ``order``, against ``daemons`` (their vomses
    lines), trusting the PKI's CAs and LSC files. Returns ``out``.

    :raises VomsdError: the client failed or wrote no proxy (voms-clients
        2.1 sometimes reports success without writing one).
    """
    out = pathlib.Path(out)
    vomses = out.with_name(out.name + '.vomses')
    vomses.write_text(''.join(d.vomses_line() for d in daemons))
    if out.exists():
        out.unlink()
    args = ['voms-proxy-init', '-rfc', '-vomses', str(vomses),
            '-cert', str(user.cert_path), '-key', str(user.key_path),
            '-certdir', str(pki.ca_path),
            '-out', str(out), '-valid', '%d:00' % hours]
    for item in voms:
        args += ['-voms', item]
    for item in order:
        args += ['-order', item]
    env = {key: value for key, value in os.environ.items()
           if not key.startswith('X509_')}
    env.update(X509_CERT_DIR=str(pki.ca_path),
               X509_VOMS_DIR=str(pki.vomsdir), RANDFILE=str(out) + '.rnd')
    result = netns.run([*args, *extra], env=env)
    if result.returncode != 0 or not out.exists():
        raise VomsdError('voms-proxy-init failed (%d): %s\n%s' % (
            result.returncode, (result.stdout + result.stderr)[-3000:],
            '\n'.join(d.log_tail(1500) for d in daemons)))
    return out
