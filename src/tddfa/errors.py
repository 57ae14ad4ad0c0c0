"""One exception family; the CLI turns each into one line and a non-zero exit code."""


class TddfaError(Exception):
    """Base class: the message is meant for the user and says what to do."""

    exit_code = 1


class InputError(TddfaError):
    """A file the user gave cannot be read or is not what we need (missing, corrupt, empty)."""

    exit_code = 2


class ModelNotAvailableError(TddfaError):
    """Weights or the face model are missing; the message says which command provisions them."""

    exit_code = 3


class NoFaceError(TddfaError):
    """No face was found where one was required."""

    exit_code = 4
