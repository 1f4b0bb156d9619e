"""Errors the service raises; the webapp turns each into one HTTP status."""


class ServiceError(Exception):
    """Base class; `message` is Chinese text fit to show a user, with `%(name)s` placeholders
    filled from `params` (so the webapp can translate the message before filling it)."""

    status = 400

    def __init__(self, message: str, **params: str):
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


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


class DuplicateLead(ValidationFailed):
    """Another unit already registered a lead for this investor; the officer must confirm."""

    def __init__(self, duplicates: list):
        super().__init__({"investor": "其他单位已登记该投资方的线索（抢商争商），请核实后勾选确认再提交。"})
        self.duplicates = duplicates


class ModelFailed(ServiceError):
    """The process model's own code (a script, condition or DMN cell) failed or ran out of its budget;
    the step is rolled back whole. The user cannot fix it: an administrator corrects the model."""

    status = 422

    def __init__(self, element: str, reason: str):
        super().__init__(
            "流程模型在“%(element)s”处执行出错（%(reason)s），本次办理未生效，请联系管理员检查流程模型。",
            element=element,
            reason=reason,
        )
