"""MappingFile: a changed file is picked up, a broken one never half-applies.

Changes are made visible with explicit ``os.utime`` bumps and a fake
clock, never with sleeps. A changed file is loaded in a background thread;
``_project`` waits for it, the tests at the end hold it back with a FIFO.
"""

import json
import logging
import os
import threading
import time

import pytest

from tests.unit.mapping import people
from voms_auth import mapping


def _write(path, project, bump):
    """Write a one-rule mapping; move mtime ``bump`` seconds ahead."""
    path.write_text(json.dumps({
        'version': 1, 'defaults': {'roles': ['member']},
        'rules': [{'match': {'vo': 'dteam'},
                   'grant': {'project': project}}]}))
    _bump(path, bump)


def _bump(path, seconds):
    info = os.stat(path)
    os.utime(path, ns=(info.st_atime_ns,
                       info.st_mtime_ns + seconds * 10 ** 9))


def _project(mapping_file):
    """The projects of /dteam once the reloads ``current()`` starts are
    done (twice: a check during a reload starts none)."""
    for _ in range(2):
        mapping_file.current()
        mapping_file.wait(timeout=60)
    result = mapping_file.current().evaluate(people.proxy('/dteam'))
    return [g.project for g in result.grants]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def path(tmp_path):
    path = tmp_path / 'mapping.json'
    _write(path, 'first', 0)
    return path


def test_changed_file_is_picked_up(path):
    current = mapping.MappingFile(path, check_interval=0)
    assert _project(current) == ['first']
    _write(path, 'second', 10)
    assert _project(current) == ['second']
    assert current.last_error is None


def test_same_size_change_is_seen_through_mtime(path):
    current = mapping.MappingFile(path, check_interval=0)
    _write(path, 'FIRST', 10)       # same length as "first"
    assert _project(current) == ['FIRST']


def test_unchanged_file_is_not_parsed_again(path):
    current = mapping.MappingFile(path, check_interval=0)
    before = current.current()
    assert current.current() is before


def test_broken_file_keeps_the_last_good_mapping(path, caplog):
    current = mapping.MappingFile(path, check_interval=0)
    path.write_text('{"version": 1, "rules": [')
    _bump(path, 10)
    with caplog.at_level(logging.ERROR, logger='voms_auth.mapping'):
        assert _project(current) == ['first']
        assert _project(current) == ['first']
    assert 'invalid JSON' in current.last_error.problems[0]
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1         # once per change, not once per call
    assert 'the previous mapping stays in force' in logged[0].getMessage()
    assert 'invalid JSON' in logged[0].getMessage()
    # Fixed: picked up, error cleared.
    _write(path, 'third', 20)
    assert _project(current) == ['third']
    assert current.last_error is None


def test_semantically_broken_file_does_not_half_apply(path):
    current = mapping.MappingFile(path, check_interval=0)
    # A good first rule and a bad second one: nothing of it applies.
    path.write_text(json.dumps({
        'version': 1, 'defaults': {'roles': ['member']},
        'rules': [{'match': {'vo': 'dteam'}, 'grant': {'project': 'new'}},
                  {'match': {'group': 'ops'}, 'grant': {'project': 'x'}}]}))
    _bump(path, 10)
    assert _project(current) == ['first']
    assert 'group "ops" is not a group path' in \
        current.last_error.problems[0]


def test_removed_file_keeps_the_last_good_mapping(path, caplog):
    current = mapping.MappingFile(path, check_interval=0)
    path.unlink()
    with caplog.at_level(logging.ERROR, logger='voms_auth.mapping'):
        assert _project(current) == ['first']
    assert 'cannot read the mapping file' in caplog.text
    _write(path, 'back', 10)
    assert _project(current) == ['back']


def test_replaced_file_is_seen_through_its_inode(path, tmp_path):
    current = mapping.MappingFile(path, check_interval=0)
    other = tmp_path / 'new.json'
    # Same size, and forced to the very same mtime: only the inode differs.
    _write(other, 'mOved', 0)
    os.utime(other, ns=(os.stat(path).st_atime_ns,
                        os.stat(path).st_mtime_ns))
    os.replace(other, path)
    assert _project(current) == ['mOved']


def test_checks_are_rate_limited(path):
    clock = Clock()
    current = mapping.MappingFile(path, check_interval=5, clock=clock)
    _write(path, 'second', 10)
    clock.now += 4.9
    assert _project(current) == ['first']
    clock.now += 0.2
    assert _project(current) == ['second']


@pytest.mark.parametrize('content, expected', [
    (None, 'cannot read the mapping file'),
    ('{', 'invalid JSON'),
    ('{"version": 1, "rules": []}', '/rules: must not be empty'),
])
def test_first_load_must_succeed(tmp_path, content, expected):
    path = tmp_path / 'mapping.json'
    if content is not None:
        path.write_text(content)
    with pytest.raises(mapping.MappingError, match=expected):
        mapping.MappingFile(path)


def test_options_reach_the_loader(tmp_path):
    path = tmp_path / 'voms.json'
    path.write_text('{"dteam": {"tenant": "dteam"}}')
    current = mapping.MappingFile(path, default_domain='grid',
                                  legacy_role='_member_')
    assert current.current().evaluate(people.proxy('/dteam')).grants == (
        mapping.Grant('dteam', 'grid', ('_member_',)),)


def test_concurrent_readers_see_a_whole_mapping(path):
    current = mapping.MappingFile(path, check_interval=0)
    seen = set()
    failures = []

    def reader():
        try:
            for _ in range(200):
                seen.update(_project(current))
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for step in range(1, 20):
        _write(path, 'p%d' % step, step)
    for thread in threads:
        thread.join()
    assert failures == []
    # Every result was one whole mapping: one of the versions written.
    assert seen <= {'first'} | {'p%d' % s for s in range(1, 20)}
    assert _project(current) == ['p19']


def _big_document(rules):
    return json.dumps({
        'version': 1, 'defaults': {'roles': ['member']},
        'rules': [{'match': {'group': '/dteam/g%d' % i},
                   'grant': {'project': 'p%d' % i}} for i in range(rules)]
        + [{'match': {'vo': 'dteam'}, 'grant': {'project': 'big'}}]})


def _reloaders():
    return [t for t in threading.enumerate()
            if t.name.startswith('voms-auth mapping reload')]


def test_a_reload_never_blocks_current(path, tmp_path):
    # The new version is a FIFO: the reload blocks reading it until this
    # test writes into it; meanwhile current() answers at once.
    clock = Clock()
    current = mapping.MappingFile(path, check_interval=5, clock=clock)
    before = current.current()
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    os.replace(fifo, path)
    released = threading.Event()

    def unblock():      # a current() that loads would hang here forever
        if not released.wait(30):
            with open(path, 'w') as writer:
                writer.write(_big_document(1))

    threading.Thread(target=unblock, daemon=True).start()
    clock.now += 5
    assert current.current() is before
    assert current.reloading
    # Further checks, even of another change, start no second reload.
    _bump(path, 10)
    for _ in range(3):
        clock.now += 5
        assert current.current() is before
    assert len(_reloaders()) == 1
    released.set()
    with open(path, 'w') as writer:      # unblocks the reload
        writer.write(_big_document(20000))
    assert current.wait(timeout=60)
    loaded = current.current()
    assert loaded is not before
    assert len(loaded.rules) == 20001
    # The change made during the reload is seen by the next check.
    path.unlink()
    _write(path, 'after', 20)
    clock.now += 5
    assert _project(current) == ['after']


def test_a_bad_file_loaded_in_the_background_keeps_the_mapping(path):
    current = mapping.MappingFile(path, check_interval=0)
    before = current.current()
    path.write_text('{')
    _bump(path, 10)
    current.current()
    assert current.wait(timeout=60)
    assert current.current() is before
    assert 'invalid JSON' in current.last_error.problems[0]


def test_watch_picks_a_change_up_without_any_request(path):
    # A process that serves no login after the file changed must not
    # serve its next login with the old mapping: the watcher loads it.
    # The clock never moves, so current() itself never checks.
    clock = Clock()
    current = mapping.MappingFile(path, check_interval=0.05, clock=clock)
    current.watch()
    current.watch()  # idempotent: one watcher
    watchers = [t for t in threading.enumerate()
                if t.name.startswith('voms-auth mapping watch')
                and str(path) in t.name]
    assert len(watchers) == 1
    _write(path, 'second', 5)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        grants = current.current().evaluate(people.proxy('/dteam')).grants
        if [g.project for g in grants] == ['second']:
            break
        time.sleep(0.02)
    assert [g.project for g in grants] == ['second']


def test_without_watch_an_idle_process_keeps_the_old_mapping(path):
    # What watch() fixes: with the clock standing still, nothing checks.
    clock = Clock()
    current = mapping.MappingFile(path, check_interval=0.05, clock=clock)
    _write(path, 'second', 5)
    time.sleep(0.3)
    grants = current.current().evaluate(people.proxy('/dteam')).grants
    assert [g.project for g in grants] == ['first']
