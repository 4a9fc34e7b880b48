"""Typed errors of the engine. Each carries one sentence a person can act on."""


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class BadImage(EngineError):
    """An image could not be used: undecodable, truncated, or too large."""


class BadParams(EngineError):
    """A stylization parameter is missing, of the wrong kind, or out of range."""


class WeightsError(EngineError):
    """Model weights could not be found, downloaded, or matched to the network."""
