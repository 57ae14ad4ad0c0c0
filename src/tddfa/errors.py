"""One exception family; the CLI turns each into one line and a non-zero exit code (docs/errors.md).

Exit codes: 0 success, 1 other error, 2 usage (bad command line or option value; argparse's own code),
3 model not available, 4 no face, 5 bad input, 6 output cannot be written, 7 internal error (a bug),
130 interrupted.
"""


class TddfaError(Exception):
    """Base class: the message is meant for the user and says what to do."""

    exit_code = 1


class UsageError(TddfaError, ValueError):
    """An option or argument value is out of range or contradicts another (checked before any work starts)."""

    exit_code = 2


class InputError(TddfaError, ValueError):
    """A file or array the user gave cannot be read or is not what we need (missing, corrupt, empty, wrong
    dtype or shape). A ``ValueError`` too, so that API callers catching that keep working."""

    exit_code = 5


class ModelNotAvailableError(TddfaError):
    """Weights or the face model are missing; the message says which command provisions them."""

    exit_code = 3


class NoFaceError(TddfaError):
    """No face was found where one was required."""

    exit_code = 4


class OutputError(TddfaError, OSError):
    """An output cannot be written (read-only or full filesystem, a file where a folder should be, a missing
    optional writer such as trimesh for ``glb``)."""

    exit_code = 6


INTERNAL_EXIT_CODE = 7  # an unexpected exception: a bug, reported as one line (``--debug`` shows the traceback)
INTERRUPTED_EXIT_CODE = 130


def require(module: str, message: str) -> None:
    """Raise :class:`ModelNotAvailableError` with ``message`` (say which extra installs it) when ``module`` is not
    installed. Only a missing package is reported so: a broken install still fails with its own ImportError."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ModelNotAvailableError(message)
