"""The launcher: supervisord's configuration, lifecycle and status for one working dir."""
