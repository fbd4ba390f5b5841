"""Fashion-MNIST without a network where possible: a folder of IDX files, Debian's package, then Keras's download."""
import gzip
import os
import zlib

import numpy as np

from lossgap.errors import UserError

# Debian's package dataset-fashion-mnist installs the four files here
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049
CLASSES = 10


def load_fashion_mnist(dataset_dir=None, train_size=None, test_size=None, debian_dir=DEBIAN_DIR):
    """Return ((trainX, trainY), (testX, testY)) as uint8 arrays, like `keras.datasets.fashion_mnist.load_data()`,
    the first `train_size` and `test_size` images of each split where given.

    `dataset_dir` if given (its problems are errors); else `debian_dir` when it holds the four files; else Keras's
    loader, which uses its own cache and downloads on a miss.
    """
    ((trainX, trainY), (testX, testY)) = _load(dataset_dir, debian_dir)
    return (trainX[:train_size], trainY[:train_size]), (testX[:test_size], testY[:test_size])


def _load(dataset_dir, debian_dir):
    if dataset_dir is not None:
        return read_idx_folder(dataset_dir)
    if all(os.path.isfile(os.path.join(debian_dir, name)) for name in FILES.values()):
        return read_idx_folder(debian_dir)
    from keras.datasets import fashion_mnist

    try:
        return fashion_mnist.load_data()
    except Exception as error:  # Keras wraps every download failure in a plain Exception
        raise UserError(
            "no Fashion-MNIST data here and the download failed "
            f"({str(error).splitlines()[0] if str(error) else type(error).__name__}); install Debian's package "
            f"(apt-get install dataset-fashion-mnist), pass --dataset-dir with the four *-ubyte.gz files, "
            "or connect to the internet once"
        ) from None


def read_idx_folder(folder):
    """Read the four gzipped IDX files of Fashion-MNIST (or MNIST) from `folder`, checking each."""
    if not os.path.isdir(folder):
        raise UserError(f"dataset folder {folder!r} does not exist")
    missing = [name for name in FILES.values() if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise UserError(f"dataset folder {folder!r} lacks {', '.join(missing)}")
    arrays = {key: _read_idx(os.path.join(folder, name)) for key, name in FILES.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1:
            raise UserError(f"{os.path.join(folder, FILES[split + '_images'])} or its labels file has the wrong shape")
        if len(images) != len(labels):
            raise UserError(
                f"{os.path.join(folder, FILES[split + '_labels'])} holds {len(labels)} labels "
                f"for {len(images)} images"
            )
        if labels.size and labels.max() >= CLASSES:
            raise UserError(f"{os.path.join(folder, FILES[split + '_labels'])} has a label outside 0-9")
    # Keras's loader does not know about IDX; reading the format with numpy is a few lines
    return ((arrays["train_images"], arrays["train_labels"]), (arrays["test_images"], arrays["test_labels"]))


def _read_idx(path):
    try:
        with gzip.open(path, "rb") as file:
            data = file.read()
    except (OSError, EOFError, zlib.error) as error:
        raise UserError(f"{path} is not a readable gzip file ({error})") from None
    if len(data) < 8 or int.from_bytes(data[:4], "big") not in (_IMAGES_MAGIC, _LABELS_MAGIC):
        raise UserError(f"{path} is not an IDX file of unsigned bytes (bad header)")
    dimensions = data[3]
    header = 4 + 4 * dimensions
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dimensions))
    if len(data) != header + int(np.prod(shape)):
        raise UserError(f"{path} is truncated or corrupt: its header promises {shape}, its body does not match")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def write_idx_folder(folder, train, test):
    """Write ((trainX, trainY), (testX, testY)) uint8 arrays as the four gzipped IDX files (for tests and samples)."""
    os.makedirs(folder, exist_ok=True)
    arrays = {"train_images": train[0], "train_labels": train[1], "test_images": test[0], "test_labels": test[1]}
    for key, name in FILES.items():
        array = np.ascontiguousarray(arrays[key], dtype=np.uint8)
        magic = _IMAGES_MAGIC if array.ndim == 3 else _LABELS_MAGIC
        header = magic.to_bytes(4, "big") + b"".join(size.to_bytes(4, "big") for size in array.shape)
        with gzip.open(os.path.join(folder, name), "wb") as file:
            file.write(header + array.tobytes())
