"""alpaca-sim: an Alpaca-compatible paper broker (see __main__ for its role and duties, README for behaviour)."""
