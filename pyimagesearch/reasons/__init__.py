"""Why the validation loss lies below the training loss, measured: `diagnostics` (the callback), `gaps` (the exact
split of each epoch's gap), `plots`, `seeds` (`python -m pyimagesearch.reasons.seeds`) and `split_check`
(`python -m pyimagesearch.reasons.split_check`)."""
