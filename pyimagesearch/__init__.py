"""Support code for the reproduction of PyImageSearch's "Why is my validation loss lower than my training loss?".

The post's own part sits at the top: `minivggnet` (its network), `schedule` (its optimizer, with Keras 2's decay on
Keras 3) and `datasets` (its data, read offline where Debian's package is installed). What this project adds is
grouped by purpose:

- `reasons/`: each reason measured on a run (the diagnostics callback, the gap's terms, their plots, the seeds
  study, the split check);
- `runs/`: a run that survives interruption and bad input on any backend (backend choice and seeding, the backup,
  history files, atomic writes, one-line errors, flag types);
- `speed/`: running the same computation fast (oneDNN, float32 and bfloat16 settings, CPU features, the benchmark);
- `keras_internals`: the one module that relies on Keras beyond its public API.
"""
