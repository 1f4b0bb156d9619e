"""The service API the webapp calls. Each function checks its permission (workflows.auth) first."""

# The engine step finds the service-task operators through a registry; load them with the package so every
# step, in the web app, the scheduler and the commands alike, has them.
from workflows.services import operators as _operators  # noqa: F401
