"""The worked example of docs/explain.md, measured again: `python -m lossgap explain` on docs/digits/train.py, its
history and figure saved in docs/digits/train-explained/, and where and on what it ran in
docs/records/digits-example.json, from which the docs generator (python -m tools.docs) writes the table's
provenance.

    python -m tools.example
"""
import json
import os
import subprocess
import sys
import time

from lossgap.errors import UserError, run
from lossgap.files import write_atomically
from tools import provenance

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND = ["-m", "lossgap", "explain", "--seed", "0", "--output", "docs/digits/train-explained", "docs/digits/train.py",
           "--epochs", "30"]
RECORD = os.path.join("docs", "records", "digits-example.json")


def main():
    started, clock = provenance.now(), time.perf_counter()
    result = subprocess.run([sys.executable, *COMMAND], cwd=ROOT)
    if result.returncode != 0:
        raise UserError(f"the example failed (exit status {result.returncode})")
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    record = {"command": " ".join(["python", *COMMAND]),
              "runs": {"example": [{"started": started, "machine": provenance.machine(),
                                    "versions": provenance.versions(backend), "commit": provenance.commit(),
                                    "wall_seconds": round(time.perf_counter() - clock, 1)}]}}
    payload = (json.dumps(record, indent=1) + "\n").encode()
    write_atomically(os.path.join(ROOT, RECORD), lambda file: file.write(payload))
    print(f"[INFO] recorded in {RECORD}")


if __name__ == "__main__":
    run(main)
