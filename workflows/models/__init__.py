"""One table per module."""
from workflows.models.organisation import Organisation, Unit
from workflows.models.user import User, UserRole
from workflows.models.model_version import ModelVersion
from workflows.models.instance import ProcessInstance
from workflows.models.task_record import TaskRecord
from workflows.models.audit_event import AuditEvent
from workflows.models.filing import Filing

__all__ = ["Organisation", "Unit", "User", "UserRole", "ModelVersion", "ProcessInstance",
           "TaskRecord", "AuditEvent", "Filing"]
