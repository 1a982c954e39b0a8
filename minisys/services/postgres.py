"""The throwaway Postgres: Debian's binaries, fsync off, as ``postgres`` when root.

See the ``minisys.services`` docstring for the non-durable settings and for why
the cluster may live under ``$TMPDIR`` instead of the state dir.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from minisys import config
from minisys.errors import MinisysError, ServiceUnavailable
from minisys.services.process import (
    Progress,
    ServiceInfo,
    ServiceStartError,
    _alive,
    _apt_install,
    _forget_stale,
    _is_root,
    _last_line,
    _lock,
    _quiet,
    _record,
    _require_free,
    _run,
    _tail,
    _wait_dead,
)

POSTGRES_PORT = 55432
POSTGRES_TIMEOUT = 60.0
#: Debian packages tried, in order, when no Postgres binaries are found
#: (15 is what Debian 12 ships; the metapackage is the release's default).
POSTGRES_APT_PACKAGES = ("postgresql-15", "postgresql")


def _postgres_home(state: Path) -> Path:
    """Where the cluster lives (see the ``minisys.services`` docstring for why it may move to $TMPDIR)."""
    wanted = state / "services" / "postgres"
    # ".s.PGSQL.<port>" must fit a Unix socket name (107 bytes on Linux).
    if len(str(wanted)) <= 80 and (not _is_root() or _postgres_can_reach(wanted)):
        return wanted
    digest = hashlib.sha1(str(state).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"minisys-postgres-{digest}"


def _postgres_can_reach(path: Path) -> bool:
    """Can the ``postgres`` user traverse every existing ancestor of ``path``?"""
    import grp
    import pwd
    import stat

    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        return True  # no such user yet: decided again once it exists
    groups = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if "postgres" in g.gr_mem}
    for directory in reversed(path.parents):
        try:
            st = directory.stat()
        except FileNotFoundError:
            break
        if st.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def _postgres_bindir(progress: Progress) -> Path:
    """The newest ``/usr/lib/postgresql/<v>/bin``, installing Debian's package if none."""

    def find() -> Path | None:
        found = sorted(
            Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
            key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.parent.name.split(".")],
        )
        if found:
            return found[-1].parent
        on_path = shutil.which("pg_ctl")
        return Path(on_path).parent if on_path else None

    bindir = find()
    if bindir is None:
        _apt_install(POSTGRES_APT_PACKAGES, "Postgres server binaries (pg_ctl, initdb)", progress)
        bindir = find()
    if bindir is None:
        raise ServiceUnavailable("no pg_ctl under /usr/lib/postgresql/*/bin even after apt-get install")
    return bindir


def _as_postgres() -> list[str]:
    """Command prefix that runs a Postgres binary as a user ``initdb`` accepts."""
    if not _is_root():
        return []
    import pwd

    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServiceUnavailable("running as root needs `runuser` (util-linux) to run Postgres as `postgres`")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceUnavailable(
            "running as root needs a `postgres` user to own the cluster (Debian's postgresql package creates it)"
        ) from None
    return [runuser, "-u", "postgres", "--"]


def _prepare_postgres_home(home: Path) -> None:
    if home.is_symlink():
        raise MinisysError(f"refusing to use {home}: it is a symlink")
    home.mkdir(parents=True, exist_ok=True)
    if _is_root():
        import pwd

        user = pwd.getpwnam("postgres")
        st = home.stat()
        if st.st_uid not in (0, user.pw_uid):
            raise MinisysError(f"refusing to use {home}: owned by uid {st.st_uid}, not root or postgres")
        for path in [home, *home.rglob("*")]:
            if path.stat().st_uid != user.pw_uid:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    home.chmod(0o700)


def _postmaster(data: Path, clean: bool) -> tuple[int, int] | None:
    """``(pid, port)`` of the live postmaster of ``data``; a stale pid file is removed."""
    pidfile = data / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    if _alive(pid, "postgres"):
        return pid, port
    if clean:
        _forget_stale(pidfile, pid)
    return None


def _postgres_url(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def _postgres_query(bindir: Path, port: int, sql: str, timeout: float) -> str:
    """Run one query over TCP with psql until it answers (or the deadline passes)."""
    env = dict(os.environ, PGCONNECT_TIMEOUT="3")
    cmd = [str(bindir / "psql"), "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(port),
           "-U", "postgres", "-d", "postgres", "-c", sql]
    deadline = time.monotonic() + timeout
    while True:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=30,
                              stdin=subprocess.DEVNULL)
        if proc.returncode == 0:
            return proc.stdout.strip()
        if time.monotonic() > deadline:
            raise ServiceStartError(f"Postgres on 127.0.0.1:{port} does not answer queries: "
                                    f"{_last_line(proc.stderr)}")
        time.sleep(0.2)


def start_postgres(
    port: int = POSTGRES_PORT, *, timeout: float = POSTGRES_TIMEOUT, progress: Progress = _quiet
) -> ServiceInfo:
    """Start (or find running) the throwaway Postgres and record its URL.

    Waits until ``SHOW server_version`` answers over TCP on 127.0.0.1.
    """
    started = time.monotonic()
    state = config.state_dir()
    with _lock(state):
        home = _postgres_home(state)
        running = _postmaster(home / "data", clean=True)
        already = running is not None
        if running is None:
            _require_free(port, "Postgres", "--postgres-port")
            bindir = _postgres_bindir(progress)
            home = _postgres_home(state)  # the `postgres` user may exist only now
            running = _start_postmaster(bindir, home, port, timeout, progress)
        else:
            bindir = _postgres_bindir(progress)
        log = home / "postgres.log"
        pid, actual_port = running
        version = _postgres_query(bindir, actual_port, "SHOW server_version", timeout)
        url = _postgres_url(actual_port)
        _record("postgres", {
            "url": url, "pid": pid, "version": version, "port": actual_port,
            "home": str(home), "log": str(log),
        })
    note = f"on port {actual_port}, not {port}: `down` first to move it" if actual_port != port else ""
    return ServiceInfo("postgres", True, url, pid, version, home, log, already_running=already,
                       seconds=time.monotonic() - started, note=note)


def _start_postmaster(
    bindir: Path, home: Path, port: int, timeout: float, progress: Progress
) -> tuple[int, int]:
    """initdb (first time only), then ``pg_ctl start -w`` with the throwaway settings."""
    data, log = home / "data", home / "postgres.log"
    as_pg = _as_postgres()
    _prepare_postgres_home(home)
    if not (data / "PG_VERSION").exists():
        shutil.rmtree(data, ignore_errors=True)  # a half-finished initdb
        progress(f"initialising a Postgres cluster in {data}")
        _run([*as_pg, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
              "-A", "trust", "--no-sync", "--no-locale", "-E", "UTF8"],
             f"initdb in {data}", timeout=120)
    server_opts = (
        f"-F -p {port} -k {shlex.quote(str(home))} -c listen_addresses=127.0.0.1"
        " -c synchronous_commit=off -c full_page_writes=off -c logging_collector=off"
    )
    for attempt in range(3):
        try:
            _run([*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                  "-t", str(int(timeout)), "-o", server_opts, "start"],
                 f"Postgres start (log: {log})", timeout=timeout + 30)
            break
        except ServiceStartError as exc:
            tail = _tail(log)
            # After a crash the old server's children may hold its shared memory
            # for a moment; they exit once they notice the postmaster is gone.
            if attempt < 2 and ("still in use" in tail or "lock file" in tail):
                time.sleep(2)
                continue
            raise ServiceStartError(str(exc), tail) from exc
    running = _postmaster(data, clean=False)
    if running is None:
        raise ServiceStartError(f"Postgres exited right after starting; see {log}", _tail(log))
    return running


def stop_postgres(*, purge: bool = False, timeout: float = POSTGRES_TIMEOUT) -> bool:
    """Stop the throwaway Postgres (``pg_ctl stop -m fast``); True if one was running.

    ``purge`` also deletes its cluster, so the next ``up`` runs initdb again.
    """
    state = config.state_dir()
    home = _postgres_home(state)
    data = home / "data"
    if not (state / "services").exists() and not home.exists():
        return False
    with _lock(state):
        running = _postmaster(data, clean=True)
        if running is not None:
            pid, _ = running
            try:
                _run([*_as_postgres(), str(_postgres_bindir(_quiet) / "pg_ctl"), "-D", str(data),
                      "-m", "fast", "-w", "-t", str(int(timeout)), "stop"],
                     "pg_ctl stop", timeout=timeout + 30)
            except MinisysError:
                os.kill(pid, signal.SIGINT)  # what "-m fast" sends
                if not _wait_dead(pid, "postgres", timeout):
                    os.kill(pid, signal.SIGKILL)
            _wait_dead(pid, "postgres", 10)
        _record("postgres", None)
        if purge:
            shutil.rmtree(home, ignore_errors=True)
    return running is not None
