"""One place that turns an expected failure into one line on stderr and an exit status."""
import os
import signal
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
    except BrokenPipeError:
        silence_closed_stdout()
        print("error: the program reading the output closed it", file=sys.stderr)
        sys.exit(128 + signal.SIGPIPE)


def silence_closed_stdout():
    """After a BrokenPipeError on stdout (`| head` done, or a `tee` that Ctrl-C stopped): point stdout at /dev/null,
    as Python's documentation advises, so that nothing printed later, nor the flush at exit, raises again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
