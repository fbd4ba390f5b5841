"""`python -m lossgap explain SCRIPT ...`: a training script of yours, run unchanged, its gap split into the reasons
(lossgap/explain.py)."""
import sys

from .errors import run


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m lossgap explain [--output DIR] [--sample-size N] [--seed S] [--log] SCRIPT ...\n\n"
              "Run a Keras training script unchanged and split the gap val_loss - loss of each fit() into its reasons;"
              "\n`python -m lossgap explain --help` says more.", file=sys.stdout if argv else sys.stderr)
        sys.exit(0 if argv else 2)
    if argv[0] != "explain":
        print(f"usage: python -m lossgap explain [options] SCRIPT ...\npython -m lossgap: error: unknown command "
              f"{argv[0]!r} (the one command is explain)", file=sys.stderr)
        sys.exit(2)
    from .explain import main as explain

    run(lambda: explain(argv[1:]))


if __name__ == "__main__":
    main()
