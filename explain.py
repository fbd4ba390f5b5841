"""`python path/to/this/repository/explain.py train.py --its --arguments` does what `python -m lossgap explain` does
(lossgap/explain.py), without installing the package."""
import sys

from lossgap.__main__ import main

if __name__ == "__main__":
    main(["explain", *sys.argv[1:]])
