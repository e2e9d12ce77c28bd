"""The one base of the errors a user can fix: a bad value, file or folder, named in the message.

The command line reports every :class:`InputError` as one line (``error: ...``) with exit status 2, in
one place (:func:`relnas_zoo.cli.report_input_errors`); anything else is a bug and keeps its traceback.
Each area's error keeps its usual base too (``ValueError``, ``RuntimeError``), so library callers can
catch it either way.
"""
from __future__ import annotations

__all__ = ['InputError']


class InputError(Exception):
    """Input a user can correct; the message names the value, file or folder, and the fix."""
