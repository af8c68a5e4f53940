"""A mapping file that is picked up again when it changes."""

import logging
import os
import threading
import time

from voms_auth.mapping import errors, loader

LOG = logging.getLogger(__name__)


def _stamp(path):
    info = os.stat(path)
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


class MappingFile:
    """The mapping in force from the file at ``path``.

    :meth:`current` looks at the file at most once per ``check_interval``
    seconds (one ``stat``: device, inode, size, mtime). When it changed,
    :meth:`current` starts (at most one) background thread that loads it
    and returns at once with the mapping in force: a request never parses
    a file (about 0.1 ms per rule). The new mapping is in force once
    loaded. A changed file that is bad or missing does not half-apply:
    the last good mapping stays in force, the problems are logged (once per
    change) and kept in :attr:`last_error`. The warnings of every mapping
    loaded (``Mapping.warnings``) are logged at WARNING. Thread-safe.

    :meth:`watch` adds a daemon thread that makes the same check every
    ``check_interval`` seconds whether or not requests come: a process that
    served nothing since the file changed then has the new mapping before
    its next login, instead of serving that login with the old one.

    :raises MappingError: from the constructor when the file is bad or
        missing at the first load.
    """

    def __init__(self, path, *, default_domain='Default',
                 legacy_role='member', check_interval=5.0,
                 clock=time.monotonic):
        self.path = os.fspath(path)
        self._options = {'default_domain': default_domain,
                         'legacy_role': legacy_role}
        self._interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        try:
            stamp = _stamp(self.path)
        except OSError as exc:
            raise errors.MappingError([
                '%s: cannot read the mapping file: %s'
                % (self.path, exc.strerror or exc)]) from None
        self._mapping = loader.load_mapping(self.path, **self._options)
        self._log_warnings()
        self._stamp = self._seen = stamp
        self._next_check = clock() + check_interval
        self._reloader = None
        self._watcher = None
        self._watcher_pid = None
        #: The :class:`MappingError` of the newest file version, or None.
        self.last_error = None

    def current(self):
        """The mapping in force; starts a background reload when the file
        changed (the change is in force once :meth:`wait` would return)."""
        if self._watcher_pid is not None and self._watcher_pid != os.getpid():
            self.watch()        # forked: threads do not survive a fork
        if self._clock() < self._next_check:
            return self._mapping
        with self._lock:
            now = self._clock()
            if now >= self._next_check:
                self._next_check = now + self._interval
                self._check()
            return self._mapping

    def _check(self):
        try:
            stamp = _stamp(self.path)
        except OSError as exc:
            stamp = ('missing', exc.errno)
            if stamp != self._seen:
                self._seen = stamp
                self.last_error = errors.MappingError([
                    '%s: cannot read the mapping file: %s'
                    % (self.path, exc.strerror or exc)])
                self._log_error()
            return
        if stamp == self._seen or self.reloading:
            return          # a later check sees a change made meanwhile
        self._seen = stamp
        self._reloader = threading.Thread(
            target=self._reload, args=(stamp,), daemon=True,
            name='voms-auth mapping reload %s' % self.path)
        self._reloader.start()

    def watch(self):
        """Check the file every ``check_interval`` seconds in a daemon
        thread of this process (started once; again after a fork), so a
        change is in force within ``check_interval`` plus its load time
        even in a process that serves no request meanwhile. Nothing to do
        when ``check_interval`` is 0 (every :meth:`current` checks)."""
        if self._interval <= 0:
            return
        with self._lock:
            pid = os.getpid()
            if self._watcher_pid == pid and self._watcher is not None and \
                    self._watcher.is_alive():
                return
            self._watcher_pid = pid
            self._watcher = threading.Thread(
                target=self._watch, args=(pid,), daemon=True,
                name='voms-auth mapping watch %s' % self.path)
            self._watcher.start()

    def _watch(self, pid):
        while self._watcher_pid == pid:
            time.sleep(self._interval)
            with self._lock:
                self._next_check = self._clock() + self._interval
                self._check()

    @property
    def reloading(self):
        """Whether a background reload is under way."""
        return self._reloader is not None and self._reloader.is_alive()

    def wait(self, timeout=None):
        """Wait until no reload is under way (or ``timeout`` seconds);
        return whether none is."""
        reloader = self._reloader
        if reloader is not None:
            reloader.join(timeout)
        return not self.reloading

    def _reload(self, stamp):
        """Load the file (in the background thread) and put it in force,
        or keep the last good mapping."""
        try:
            mapping = loader.load_mapping(self.path, **self._options)
        except errors.MappingError as exc:
            self.last_error = exc
            self._log_error()
            return
        with self._lock:
            self._mapping, self._stamp = mapping, stamp
            self.last_error = None
        LOG.info('mapping file %s reloaded: %s', self.path,
                 mapping.summary())
        self._log_warnings()

    def _log_warnings(self):
        for warning in self._mapping.warnings:
            LOG.warning('mapping warning: %s', warning)

    def _log_error(self):
        LOG.error('mapping file %s is not usable; the previous mapping '
                  'stays in force: %s', self.path,
                  '; '.join(self.last_error.problems))
