"""The command line (`zhaoshang <command>`, workflows/commands/cli.py) and the programs it runs: set-up and
imports (provisioning, project_import), the scheduler, backup and restore, verify, deploy-model."""
