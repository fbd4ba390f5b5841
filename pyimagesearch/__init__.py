"""The post's package, as PyImageSearch downloads ship one: `minivggnet` (its network), `schedule` (its optimizer's
decay, Keras 2's on Keras 3) and `datasets` (its data, read offline where Debian's package is installed); then what
its two scripts need to run on today's Keras: `runs/` (every setting a flag, resuming after a stop, seeding, the
measurements attached), `speed/` (oneDNN, float32, the fused batch-norm, bfloat16) and `split_check` (Fashion-MNIST's
splits compared). The gap toolkit the scripts use is a package of its own, `lossgap`, which imports nothing from
here."""
