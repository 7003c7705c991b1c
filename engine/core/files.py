"""Output files written safely: one way to open an output, temporary files removed on a signal.

Every command that writes a file (`evaluate`, `score`, `diff`, `report`, `schema -o`,
`test --junit`) goes through `check_output` (before any work) and `open_output` / `output_path`
(when writing). The rules, and why:

* `-` (or no `-o`) is standard output.
* A regular file, or a name that does not exist yet, is written to a **unique** temporary file
  in the target's folder (`tempfile.mkstemp`), flushed and fsync'ed, then moved onto the name
  with `os.replace`. A reader never sees half a file; a failed or interrupted run leaves the old
  file; two runs writing the same target at once each move a complete file into place, and the
  last rename wins (a fixed `X.partial` name let them interleave into invalid JSON).
* A FIFO or a character device (`/dev/null`, `/dev/stdout`, a terminal) is **written through**:
  opened and written directly, never replaced. Renaming onto `/dev/null` as root would replace
  the system's /dev/null with a regular file.
* A **symlink** is resolved and its final target is written atomically (the link stays a link,
  as `open()` would have followed it). A directory, a socket or a block device is refused (E172).
* The folder is checked before any work starts: missing is E170, not writable is E171; a batch
  is never decided only to be lost at the end. Exit code 2.
* Writing that fails (a full disk, an I/O error) is E173: the temporary file is removed, the
  old file stays, and the message names the target and the reason; never a traceback. Exit 2.
* SIGINT / SIGTERM (`install_signal_handlers`, installed by the CLI): every temporary file being
  written is registered here, so the handler removes them, terminates the worker processes and
  exits 130 / 143. The old file under the target's name is untouched.
"""


from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import stat
import sys
import tempfile
from typing import Any, Iterator, TextIO

from engine.core.problems import EngineError, Problem

STDOUT = "-"

# Temporary files being written right now: removed by the `with` blocks, and by `cleanup()` as a
# last resort when a signal stops the run.
_LIVE: set[str] = set()


class OutputError(EngineError):
    """An output cannot be written (E170-E173); carries the problem to show. Exit code 2."""

    def __init__(self, path: str, code: str, message: str, message_zh: str):
        self.problem = Problem(path, 1, 1, code, message, message_zh=message_zh)
        super().__init__(f"{code} {message}")


_MAIN_PID: list[int] = []


def _interrupt(signum: int, frame: Any) -> None:
    """SIGINT / SIGTERM: remove the temporary files, stop the workers, exit 128 + signal.

    Done here and ended with os._exit, not by raising an exception: an exception raised from a
    signal handler can land inside a fork handler or a `finally` that swallows it, and the run
    would go on (or hang) after the user asked it to stop."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # a second signal must not cut the cleanup short
    if _MAIN_PID and os.getpid() == _MAIN_PID[0]:  # a worker not yet past its initialiser just ends
        cleanup()
        name = signal.Signals(signum).name
        with contextlib.suppress(OSError):
            os.write(2, f"interrupted ({name}): no output was written / 已中断，未写入任何结果\n".encode("utf-8"))
    os._exit(128 + signum)  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM end the run cleanly (main process; workers reset them)."""
    _MAIN_PID[:] = [os.getpid()]
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)


def register_temporary(path: str) -> None:
    """A temporary file or folder to remove if the run is interrupted (see `cleanup`)."""
    _LIVE.add(path)


def cleanup() -> None:
    """Remove every temporary file still being written, and stop worker processes."""
    for path in list(_LIVE):
        with contextlib.suppress(OSError):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        _LIVE.discard(path)
    import multiprocessing

    for child in multiprocessing.active_children():
        with contextlib.suppress(Exception):
            child.terminate()


def _kind(path: str) -> str:
    """stdout | through (FIFO, character device) | atomic (regular file or new name) | refuse."""
    if path == STDOUT:
        return "stdout"
    try:
        mode = os.stat(path).st_mode  # follows a symlink: its target decides
    except FileNotFoundError:
        return "atomic"
    except OSError:
        return "atomic"  # e.g. a symlink loop; the folder checks below report it
    if stat.S_ISREG(mode):
        return "atomic"
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return "through"
    return "refuse"


def _real(path: str) -> str:
    """The file a symlink finally names (the link itself is left alone); other paths as given."""
    return os.path.realpath(path) if os.path.islink(path) else path


def check_output(path: str | None) -> None:
    """Raise OutputError unless `path` can be written: call before any work starts."""
    if path is None or path == STDOUT:
        return
    kind = _kind(path)
    if kind == "through":
        if not os.access(path, os.W_OK):
            raise OutputError(path, "E171", f"cannot write to {path}: permission denied",
                              f"无法写入 {path}：没有写权限，请换一个输出位置")
        return
    if kind == "refuse":
        what = "a folder" if os.path.isdir(path) else "not a regular file (socket or block device)"
        raise OutputError(path, "E172", f"output {path} is {what}; give a file name",
                          f"输出位置 {path} 不是普通文件（{'是文件夹' if os.path.isdir(path) else '是套接字或块设备'}），"
                          "请指定一个文件名")
    real = _real(path)
    folder = os.path.dirname(os.path.abspath(real)) or "."
    if not os.path.isdir(folder):
        raise OutputError(path, "E170", f"the output folder {folder} does not exist; create it first "
                          "(nothing was decided)", f"输出文件夹 {folder} 不存在，请先创建它（尚未进行任何判定）")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(path, "E171", f"the output folder {folder} is not writable (nothing was decided)",
                          f"输出文件夹 {folder} 没有写权限（尚未进行任何判定），请换一个输出位置")


def _write_error(path: str, error: OSError) -> OutputError:
    reason = error.strerror or str(error)
    full = error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
    zh = "磁盘空间已满" if full else f"系统错误：{reason}"
    return OutputError(path, "E173", f"cannot write {path}: {reason}; the previous file (if any) is unchanged",
                       f"无法写入 {path}（{zh}），原有文件未被改动")


def _mode_for(real: str) -> int:
    """The permissions the new file gets: the old file's, else what a plain open() would give."""
    try:
        return stat.S_IMODE(os.stat(real).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """A unique temporary path in the target's folder; fsync'ed and moved onto `path` only if
    the block succeeds. For a symlink, its final target is replaced and the link kept."""
    real = _real(path)
    folder = os.path.dirname(os.path.abspath(real)) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(real) + ".", suffix=".partial", dir=folder)
    except OSError as error:
        raise _write_error(path, error) from None
    _LIVE.add(tmp)
    try:
        os.close(fd)
        try:
            os.chmod(tmp, _mode_for(real))
            yield tmp
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)  # the bytes are on disk before the name points at them
            finally:
                os.close(fd)
            os.replace(tmp, real)
        except OSError as error:
            raise _write_error(path, error) from None
        _fsync_folder(folder)
    finally:
        _LIVE.discard(tmp)
        if os.path.lexists(tmp):
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@contextlib.contextmanager
def output_path(path: str) -> Iterator[str]:
    """A file name a writer that wants a path (openpyxl, ElementTree) can write to; the result
    ends up at `path` as `open_output` would put it (stdout and devices are written through)."""
    kind = _kind(path)
    if kind == "atomic":
        with atomic_path(path) as tmp:
            yield tmp
        return
    if kind == "refuse":
        check_output(path)
    fd, tmp = tempfile.mkstemp(prefix="certify-", suffix=".out")
    os.close(fd)
    _LIVE.add(tmp)
    try:
        yield tmp
        with open(tmp, "rb") as source, open_output(path, binary=True) as target:
            shutil.copyfileobj(source, target)
    finally:
        _LIVE.discard(tmp)
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@contextlib.contextmanager
def open_output(path: str | None, binary: bool = False, newline: str | None = None) -> Iterator[Any]:
    """A handle to write the output to: stdout for None or `-`, the device or FIFO itself, or a
    temporary file moved into place when the block succeeds (see the module docstring)."""
    kind = "stdout" if path is None else _kind(path)
    if kind == "stdout":
        handle: Any = sys.stdout.buffer if binary else sys.stdout
        yield handle
        handle.flush()
        return
    assert path is not None
    if kind == "refuse":
        check_output(path)
    if kind == "through":
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)  # no O_CREAT, no O_TRUNC: never a new file
        except OSError as error:
            raise _write_error(path, error) from None
        handle = os.fdopen(fd, "wb") if binary else open(fd, "w", encoding="utf-8", newline=newline)
        try:
            with handle:
                yield handle
        except OSError as error:
            raise _write_error(path, error) from None
        return
    with atomic_path(path) as tmp:
        try:
            with (open(tmp, "wb") if binary else open(tmp, "w", encoding="utf-8", newline=newline)) as handle:
                yield handle
        except OSError as error:
            raise _write_error(path, error) from None


@contextlib.contextmanager
def atomic_text(path: str, newline: str | None = None) -> Iterator[TextIO]:
    """Kept for callers of the old name: `open_output` for text."""
    with open_output(path, newline=newline) as handle:
        yield handle
