"""Several servers: rsyslog snippets that ship cells.out to a collector, and housekeeping for
directories nobody rotates (a collector's per-host directories)."""
