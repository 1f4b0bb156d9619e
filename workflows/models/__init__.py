"""One table per module."""

from workflows.models.api_request import ApiRequest, FilingApiPeer
from workflows.models.api_token import ApiToken
from workflows.models.attachment import Attachment
from workflows.models.audit_event import AuditCheckpoint, AuditEvent
from workflows.models.business_role import BusinessRole
from workflows.models.calendar_day import CalendarDay
from workflows.models.filing import Filing
from workflows.models.instance import ProcessInstance
from workflows.models.model_draft import ModelDraft
from workflows.models.model_version import ModelVersion
from workflows.models.notification import Notification
from workflows.models.organisation import Organisation, Unit
from workflows.models.outbox_message import OutboxMessage
from workflows.models.process_binding import ProcessBinding
from workflows.models.project_copy import ProjectCopy
from workflows.models.reward_grant import RewardGrant
from workflows.models.sign_in import PasswordHistory, RecoveryCode, SignInThrottle
from workflows.models.stand_in import StandIn
from workflows.models.task_record import TaskOwner, TaskRecord
from workflows.models.user import User, UserRole
from workflows.models.user_session import UserSession

__all__ = [
    "ApiRequest",
    "ApiToken",
    "Attachment",
    "AuditCheckpoint",
    "AuditEvent",
    "BusinessRole",
    "CalendarDay",
    "Filing",
    "FilingApiPeer",
    "ModelDraft",
    "ModelVersion",
    "Notification",
    "Organisation",
    "OutboxMessage",
    "PasswordHistory",
    "ProcessBinding",
    "ProcessInstance",
    "ProjectCopy",
    "RecoveryCode",
    "RewardGrant",
    "SignInThrottle",
    "StandIn",
    "TaskOwner",
    "TaskRecord",
    "Unit",
    "User",
    "UserRole",
    "UserSession",
]
