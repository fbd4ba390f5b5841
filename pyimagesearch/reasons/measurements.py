"""What `--diagnostics` (reasons/diagnostics.py) measures each epoch, named once: the history keys it writes, in the
order it takes them, and the terms of the gap, each the difference of two of them (reasons/gaps.py). Imports nothing,
so that plot_shift.py and the seeds study read them without loading Keras.
"""
# the families of layers that act in training only, switched off one after another in this order
FAMILIES = ("dropout", "noise", "augmentation", "batch-norm", "other")
# the training sample as training sees it, at the end of the epoch
AS_TRAINING_SEES_IT = "train_end_loss"
# the same batches once a family, and every family before it, is switched off; the last is inference mode itself
MEASUREMENT_WITHOUT = {"dropout": "train_end_nodropout_loss", "noise": "train_end_nonoise_loss",
                       "augmentation": "train_end_noaugmentation_loss", "batch-norm": "train_end_nobatchnorm_loss",
                       "other": "train_inference_loss"}
IN_INFERENCE = MEASUREMENT_WITHOUT["other"]

DIAGNOSTIC_KEYS = (AS_TRAINING_SEES_IT, *MEASUREMENT_WITHOUT.values())

# (name, later measurement, earlier measurement): each term is later minus earlier, so they add up to val_loss - loss
TERMS = (
    ("reason 2 (running mean)", AS_TRAINING_SEES_IT, "loss"),
    ("reason 1 (dropout)", MEASUREMENT_WITHOUT["dropout"], AS_TRAINING_SEES_IT),
    ("reason 1 (noise)", MEASUREMENT_WITHOUT["noise"], MEASUREMENT_WITHOUT["dropout"]),
    ("reason 1 (augmentation)", MEASUREMENT_WITHOUT["augmentation"], MEASUREMENT_WITHOUT["noise"]),
    ("batch-norm statistics", MEASUREMENT_WITHOUT["batch-norm"], MEASUREMENT_WITHOUT["augmentation"]),
    ("other training-only layers", IN_INFERENCE, MEASUREMENT_WITHOUT["batch-norm"]),
    ("generalization (reason 3 if < 0)", "val_loss", IN_INFERENCE),
)
LOGGED_GAP = "logged gap (val_loss - loss)"
