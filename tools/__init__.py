"""Tools that measure the project itself, apart from the post and the toolkit: the seeds study (`python -m
tools.seeds`), the docs generator (`python -m tools.docs`), the benchmark (`python -m tools.benchmark`), the step
profile (`python -m tools.profile_step`), the post's own code on Keras 2 (`tools/post_keras2.py`) and provenance (what
machine, versions and commit a kept run was measured on). Run them from the repository's root."""
