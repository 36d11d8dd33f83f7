"""The commands' output paths, checked before the work that fills them (a training, a recording, a conversion):
one that cannot be written is a one-line PicomlError up front, not a traceback after the work is done (and lost)."""
import os
import pathlib

from .errors import PicomlError


def check_output_file(path, what="the output"):
    """Refuse a file path that cannot be written: a folder, a missing folder, a place where no file can be made.
    Nothing is changed: an existing file is opened for appending and closed; a new one is made and removed."""
    p = pathlib.Path(path)
    if p.is_dir():
        raise PicomlError("%s is a folder: give a file name for %s" % (path, what))
    existed = p.exists()
    if existed and not p.is_file():     # a device or a pipe (/dev/stdout): opened only to be written
        return
    try:
        with open(p, "ab"):
            pass
    except OSError as e:
        parent = p.parent
        if not parent.exists():
            raise PicomlError("cannot write %s: there is no folder %s" % (path, parent))
        raise PicomlError("cannot write %s: %s" % (path, e.strerror or e))
    if not existed:
        p.unlink()


def check_output_folder(path, what="the output folder"):
    """Refuse a folder path that is a file, or under a file, or where no folder can be made. Nothing is made."""
    p = pathlib.Path(path)
    if p.exists() and not p.is_dir():
        raise PicomlError("%s is a file, not a folder: give a folder for %s" % (path, what))
    existing = p
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise PicomlError("cannot make the folder %s: %s is a file" % (path, existing))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PicomlError("cannot write in %s: permission denied" % existing)
