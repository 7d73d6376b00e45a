"""The log browser: parse, filter and print entries of cells.out and its archives."""
