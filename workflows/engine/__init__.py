"""Everything that touches SpiffWorkflow objects lives in this package."""
