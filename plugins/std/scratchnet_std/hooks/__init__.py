"""Standard hook plugins: the progress bar (``verbose=1``) and the per-batch log (``verbose=2``)."""
