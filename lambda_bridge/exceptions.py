"""Errors that are part of lambda_bridge's API."""


class EltError(Exception):
    """Base class for errors a user can act on."""


class ContractError(EltError):
    """A data contract is malformed; the message names the file and the field."""


class ConfigError(EltError):
    """A required setting (environment variable) is missing or invalid."""


class MessageError(EltError):
    """A queue message does not follow the pointer-message contract."""
