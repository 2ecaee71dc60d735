"""What trials give back: a trial's records (``trial``: TrialSpec, TrialResult, Status, its
outcome), the best measured LR (``best``), and the results of a sweep and a search
(``sweep_result``, ``search_result``)."""
