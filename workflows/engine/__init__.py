"""Everything that touches SpiffWorkflow objects lives in this package."""

from workflows.engine import task_depth  # noqa: F401 - lifts the engine's task-tree depth limit first
