"""Errors the service raises; the webapp turns each into one HTTP status."""


class ServiceError(Exception):
    """Base class; `message` is Chinese text fit to show a user."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    """The task or instance changed under the user (already completed, claimed by another, stale)."""

    status = 409


class ValidationFailed(ServiceError):
    """Form data did not match its schema; `errors` maps field name → message."""

    status = 422

    def __init__(self, errors: dict[str, str]):
        super().__init__("表单填写有误，请按提示修改。")
        self.errors = errors
