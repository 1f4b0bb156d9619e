"""One table per module."""
from workflows.models.attachment import Attachment
from workflows.models.audit_event import AuditEvent
from workflows.models.filing import Filing
from workflows.models.instance import ProcessInstance
from workflows.models.model_version import ModelVersion
from workflows.models.notification import Notification
from workflows.models.organisation import Organisation, Unit
from workflows.models.project_copy import ProjectCopy
from workflows.models.stand_in import StandIn
from workflows.models.task_record import TaskRecord
from workflows.models.user import User, UserRole

__all__ = ["Attachment", "AuditEvent", "Filing", "ModelVersion", "Notification", "Organisation", "ProcessInstance",
           "ProjectCopy", "StandIn", "TaskRecord", "Unit", "User", "UserRole"]
