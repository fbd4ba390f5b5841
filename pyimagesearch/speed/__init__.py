"""The same computation, fast where it runs: `settings` (oneDNN, float32, bfloat16), `cpu` (what the processor can
do) and `benchmark` (`python -m pyimagesearch.speed.benchmark`)."""
