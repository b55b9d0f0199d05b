"""The one atomic file writer: checkpoints, weight files and downloaded datasets all go through
`atomic_write`, so a crash, a kill or a full disk mid-write never leaves a half-written file
under the name the user asked for.

The bytes go to a hidden temporary file in the target's own directory (a rename is atomic only
within one file system), named `.NAME.PID-RANDOM.tmp`; it is flushed to disk (fsync) and then
renamed over the target (os.replace), and the directory entry is synced too. A process that is
killed (SIGKILL, power loss) cannot remove its temporary file; the next successful write of the
same target removes the temporary files of processes that no longer run.
"""
from __future__ import annotations

import os
import secrets
import stat

_SUFFIX = ".tmp"


def _temp_prefix(path):
    return f".{os.path.basename(path)}."


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        # another user's process, or a platform without signal 0: assume it runs
        return True
    return True


def _remove_stale_temps(directory, path):
    """Remove `.NAME.PID-RANDOM.tmp` files for `path` left by processes that have died."""
    prefix = _temp_prefix(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_SUFFIX)):
            continue
        pid = name[len(prefix):-len(_SUFFIX)].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _named(e, path, doing):
    """The same kind of OSError, naming the user's path instead of the temporary file."""
    return OSError(e.errno, f"{doing} {path}: {e.strerror}", path)


def atomic_write(path, write):
    """Call write(binary_file) on a temporary file beside `path`, fsync it, then rename it
    over `path`. On any failure (including KeyboardInterrupt) the temporary file is removed
    and `path` is untouched.

    An existing target keeps its permission bits; a write-protected target (no write bit) is
    refused with a PermissionError rather than silently replaced, as `open(path, "wb")` would
    refuse it. OSErrors name `path`, never the temporary file.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _named(e, path, "cannot write") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, f"cannot write {path}: it is a directory; give a file "
                                        f"name inside it", path)
        # checked by mode bits, not os.access: for root os.access says yes to everything
        if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or \
                not os.access(path, os.W_OK):
            raise PermissionError(13, f"cannot write {path}: the file is write-protected; "
                                      f"make it writable (chmod u+w) or save under another "
                                      f"name", path)
    tmp = os.path.join(directory, f"{_temp_prefix(path)}{os.getpid()}-"
                                  f"{secrets.token_hex(4)}{_SUFFIX}")
    try:
        # 0o666 lets the umask decide a new file's permissions, as open() would
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        raise _named(e, path, "cannot write") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            if st is not None:
                os.chmod(tmp, stat.S_IMODE(st.st_mode))
            os.replace(tmp, path)
        except OSError as e:
            raise _named(e, path, "cannot replace") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _sync_directory(directory)
    _remove_stale_temps(directory, path)


def _sync_directory(directory):
    """Make the rename itself durable (POSIX; not possible on every platform)."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
