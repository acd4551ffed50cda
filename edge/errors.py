"""Errors a store operator can act on. The CLI prints their message on one line and exits 2."""


class SignageError(Exception):
    """Bad input or a missing resource, with a message that says what to do."""


class ConfigError(SignageError):
    pass


class ModelMissing(SignageError):
    pass


class BadImage(SignageError):
    pass


class CatalogMissing(SignageError):
    pass


class BadInput(SignageError):
    pass


class CatalogDamaged(SignageError):
    """The catalogue's SQLite file is not a database any more (garbage, cut short)."""
