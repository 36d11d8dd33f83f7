class PicomlError(Exception):
    """An error with a message meant for the user: the CLI prints it without a traceback."""


class FormatError(PicomlError, ValueError):
    """A .pml file is malformed, truncated, corrupted or of a newer format."""


class UnsupportedModelError(PicomlError):
    """A model uses an op, dtype or option picoml cannot run."""
