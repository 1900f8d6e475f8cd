"""What the store refuses: every refusal says why, and nothing was changed."""

from __future__ import annotations


class StoreError(Exception):
    """The store refused an operation; the message says why, and nothing was changed."""


class SchemaVersionError(StoreError):
    """The file was written by a newer program: opening it could corrupt what it holds."""


class NotFoundError(StoreError, LookupError):
    """The override or user named does not exist."""


class ConflictError(StoreError):
    """The operation contradicts what is stored: an existing user, an ended override."""
