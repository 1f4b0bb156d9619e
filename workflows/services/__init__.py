"""The service API the webapp calls. Each function checks its permission (workflows.auth) first."""
