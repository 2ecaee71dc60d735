"""Which (lr, seed) trials to run: the log grid (``grid``) and, for ``search``, the rounds
that follow one another and a typed reason to stop (``rounds``)."""
