"""Errors shared by every stage."""


class UserError(Exception):
    """Bad input from the user: the CLI prints it as one clear message and exits 2."""
