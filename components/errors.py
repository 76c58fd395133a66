"""Errors raised by components. The CLI prints them as one line and exits non-zero."""


class ForgetflowError(Exception):
    """Base class: an expected failure with a message meant for a person."""


class BadInputError(ForgetflowError):
    """What a person typed (an id, a file, an option) is malformed or names nothing: exit code 2."""


class DataSourceError(ForgetflowError):
    """A dataset source is missing, truncated or malformed."""


class DataValidationError(ForgetflowError):
    """Materialised data does not match its manifest (never retry these)."""


class NonFiniteLossError(ForgetflowError):
    """Training produced NaN/inf; continuing would only corrupt the weights."""


class CheckpointError(ForgetflowError):
    """A checkpoint is missing, incomplete or of an unknown kind."""


class RegistryError(ForgetflowError):
    """The model registry does not hold what was asked for."""


class UnknownVersionError(RegistryError, BadInputError):
    """A version number or alias names no model version: exit code 2."""


class WorkspaceError(ForgetflowError):
    """The directory is not an initialised forgetflow workspace."""
