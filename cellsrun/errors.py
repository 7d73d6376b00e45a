"""One exception family carrying exit codes (as click does).

The CLI catches :class:`CellsrunError`, prints ``Error: <message>`` on stderr and
exits with :attr:`CellsrunError.exit_code`. Core modules raise these and never print.
"""


class CellsrunError(Exception):
    """A failure the user should read about; ``exit_code`` is what the process returns."""

    exit_code = 1


class UsageError(CellsrunError):
    """Bad flags, values or configuration: exit 2."""

    exit_code = 2


class RuntimeFailure(CellsrunError):
    """The command was well formed but could not be carried out: exit 1."""

    exit_code = 1
