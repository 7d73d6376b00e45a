"""The companion rotator: reads a service's output and keeps it in whole lines, rotated at midnight."""
