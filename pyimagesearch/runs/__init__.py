"""What fashion_mnist.py adds around the post's training, each one call in the script: `set_up_keras` (before Keras
loads), `flags` (every setting a flag), `training.TrainingRun` (seeding, precision, the split check, resuming after a
stop, --diagnostics and the answer it gives), `backup` and `random_state` (the backup a stopped run resumes from),
`seeding`. Nothing here imports Keras until it is called, so that `set_up_keras` comes first."""
import sys


def set_up_keras():
    """Choose a backend that is installed and TensorFlow's faster CPU kernels; call it before Keras is imported.
    A problem (no Keras, or the chosen backend missing) is one line and exit status 1."""
    from lossgap.backends import choose_backend
    from lossgap.errors import UserError

    from ..speed.settings import prefer_onednn

    try:
        choose_backend()  # TensorFlow has no wheels for Python 3.14+, where requirements.txt installs JAX instead
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    prefer_onednn()  # its oneDNN kernels also on AVX2-only CPUs (docs/speed.md)


# the exit status of a training that a NaN or infinite loss stopped, apart from other failures' 1 and a bad flag's 2,
# so that a caller (the seeds study) can tell a run that will diverge again from one worth retrying
NON_FINITE_LOSS = 3
