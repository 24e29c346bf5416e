"""Client for the sharefs control API: open files with exact Windows share modes.

A program that knows it runs on a sharefs mount asks for exactly what CreateFile takes:
access (read, write, delete, or none = attribute-only), share (read, write, delete or
none) and options (delete_on_close, write_through, no_buffering, atomic,
windows_locks). See docs/control-api.md in the sharefs repository.

Thread safety: sharefs keeps one pending intent per *thread*. ``open`` writes the
intent and opens the file from the calling thread, so threads never see each other's
intents. Do not write an intent in one thread and open in another.

Pure standard library.
"""

import builtins
import errno
import fcntl
import os
import struct

__all__ = [
    "open",
    "open_fd",
    "intent_line",
    "find_control_dir",
    "set_delete",
    "get_delete",
    "rename",
    "SharingViolation",
]

CONTROL_DIR = ".sharefs"
IOC_SET_DELETE = 0x40047301
IOC_GET_DELETE = 0x80047302
IOC_RENAME = 0x50007303
RENAME_ARG_SIZE = 4096

_CLASSES = ("read", "write", "delete")
_OPTIONS = ("delete_on_close", "write_through", "no_buffering", "atomic", "windows_locks")


class SharingViolation(OSError):
    """Raised by ``open`` when sharefs refuses the open with a sharing violation."""


def _classes(value, key):
    if value is None:
        return None
    if isinstance(value, str):
        words = [w for w in value.split(",") if w]
    else:
        words = list(value)
    if not words or words == ["none"]:
        return "none"
    for w in words:
        if w not in _CLASSES:
            raise ValueError("%s: unknown word %r (read, write, delete or none)" % (key, w))
    return ",".join(words)


def intent_line(access=None, share=None, delete_on_close=False, write_through=False,
                no_buffering=False, atomic=False, windows_locks=False):
    """The intent line for these modes (access/share: 'read,delete', ['read'], 'none')."""
    parts = []
    a = _classes(access, "access")
    s = _classes(share, "share")
    if a is not None:
        parts.append("access=" + a)
    if s is not None:
        parts.append("share=" + s)
    flags = dict(delete_on_close=delete_on_close, write_through=write_through,
                 no_buffering=no_buffering, atomic=atomic, windows_locks=windows_locks)
    opts = [name for name in _OPTIONS if flags[name]]
    if opts:
        parts.append("options=" + ",".join(opts))
    return " ".join(parts)


def find_control_dir(path):
    """The control directory of the sharefs mount ``path`` is on."""
    env = os.environ.get("SHAREFS_CONTROL_DIR")
    if env:
        return env
    d = os.path.dirname(os.path.abspath(path))
    while True:
        candidate = os.path.join(d, CONTROL_DIR)
        if os.path.exists(os.path.join(candidate, "intent")):
            return candidate
        parent = os.path.dirname(d)
        if parent == d:
            raise FileNotFoundError(errno.ENOENT, "not on a sharefs mount", path)
        d = parent


def _write_intent(path, line, control_dir):
    control = control_dir or find_control_dir(path)
    fd = os.open(os.path.join(control, "intent"), os.O_WRONLY)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
    return control


def _withdraw_intent(control):
    # A blank line withdraws a pending intent: an open the kernel refused before it
    # reached sharefs (e.g. ENOENT) did not consume it.
    try:
        fd = os.open(os.path.join(control, "intent"), os.O_WRONLY)
        try:
            os.write(fd, b"\n")
        finally:
            os.close(fd)
    except OSError:
        pass


def open_fd(path, flags=os.O_RDONLY, mode=0o666, *, access=None, share=None,
            delete_on_close=False, write_through=False, no_buffering=False,
            atomic=False, windows_locks=False, control_dir=None):
    """os.open with exact sharefs modes; returns a file descriptor."""
    line = intent_line(access, share, delete_on_close, write_through, no_buffering,
                       atomic, windows_locks)
    control = _write_intent(path, line, control_dir)
    try:
        return os.open(path, flags, mode)
    except OSError as e:
        _withdraw_intent(control)
        if e.errno == errno.EBUSY:
            raise SharingViolation(e.errno, "sharing violation", path) from None
        raise


def open(path, mode="r", *, access=None, share=None, delete_on_close=False,
         write_through=False, no_buffering=False, atomic=False, windows_locks=False,
         control_dir=None, **kwargs):
    """builtins.open with exact sharefs modes.

    >>> f = open("/mnt/x/log.txt", "a", share="read")  # readers only, no deleting
    """
    line = intent_line(access, share, delete_on_close, write_through, no_buffering,
                       atomic, windows_locks)
    control = _write_intent(path, line, control_dir)
    try:
        return builtins.open(path, mode, **kwargs)
    except OSError as e:
        _withdraw_intent(control)
        if e.errno == errno.EBUSY:
            raise SharingViolation(e.errno, "sharing violation", path) from None
        raise


def _fileno(f):
    return f if isinstance(f, int) else f.fileno()


def set_delete(f, delete=True):
    """Set (or clear) delete pending through an open handle (needs delete access)."""
    fcntl.ioctl(_fileno(f), IOC_SET_DELETE, struct.pack("I", 1 if delete else 0))


def get_delete(f):
    """True while delete is pending on the handle's file."""
    out = fcntl.ioctl(_fileno(f), IOC_GET_DELETE, b"\0\0\0\0")
    return struct.unpack("I", out)[0] == 1


def rename(f, target, replace=False):
    """Rename through an open handle (needs delete access); ``target`` is relative to
    the mount root."""
    name = os.fsencode(target)
    if len(name) >= RENAME_ARG_SIZE - 4:
        raise OSError(errno.ENAMETOOLONG, "target too long", target)
    arg = bytearray(struct.pack("I", 1 if replace else 0) + name + b"\0")
    arg.extend(b"\0" * (RENAME_ARG_SIZE - len(arg)))
    fcntl.ioctl(_fileno(f), IOC_RENAME, arg)
