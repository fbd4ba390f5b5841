"""The same computation, fast where it runs: `settings` (oneDNN, float32, bfloat16), `cpu` (what the processor can
do) and `batch_norm` (Keras's batch-norm in TensorFlow's fused kernel). The benchmark and the step profile that
measure them are in tools/."""
