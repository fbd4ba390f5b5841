"""One place that turns an expected failure into one line on stderr and an exit status."""
import sys


class UserError(Exception):
    """A problem the user can fix (bad file, missing data, interrupted run): reported in one line, no traceback."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code


def run(main):
    """Call `main()`; a UserError becomes `error: ...` on stderr and its exit status. Anything else is a bug."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
