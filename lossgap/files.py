"""Writing files so that a reader never finds one half-written, and refusing an unusable path early."""
import os
import tempfile

from .errors import UserError


def check_writable(path, what):
    """Refuse, before any slow work, an output path whose folder is missing or cannot take a new file."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UserError(f"{what} {path!r} is a folder, not a file")
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {what} {path!r}: folder {folder!r} does not exist")
    # os.access() says yes to root even on read-only mounts, so try the real thing
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UserError(f"cannot write {what} {path!r}: {error.strerror}") from None


def write_atomically(path, write, suffix=".tmp"):
    """Write `path` through `write(file)` into a temporary file beside it, then rename it into place.

    A crash or kill at any moment leaves either the old file or the complete new one, never a partial one.
    """
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=suffix)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _new_file_mode())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _new_file_mode():
    # mkstemp makes files only their owner can read; a history or figure gets the mode open() would give it
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask
