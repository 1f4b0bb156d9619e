"""The engine service: SpiffWorkflow instances, persistence, assignment and audit.

The web application talks only to the functions in `workflows.services`; nothing outside
this package touches SQLAlchemy sessions or SpiffWorkflow objects.
"""
