"""Capabilities a process model opts into (domain.md, "Capabilities, not process ids"): filing with the
prefecture and its outbox, after-signing tracking and rewards, overdue reminders, investor complaints,
documents. They use the engine core (workflows/services: start, step, task index, audit) and reach the engine
only through the one operator table (operators.py registers with workflows/services/operator_registry.py); the
core never imports them."""
