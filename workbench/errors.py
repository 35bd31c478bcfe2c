"""The one exception type users see: a message for people, never a traceback."""


class WorkbenchError(Exception):
    """Bad input or a failed precondition; the message names the file, the field and the fix."""
