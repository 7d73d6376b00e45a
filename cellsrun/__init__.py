"""cellsrun: run a service under supervisord and keep its stdout on file, rotated at midnight."""

__version__ = "0.1.0"
