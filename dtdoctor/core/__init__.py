"""The engine: the result model and codes, the run context, the scheduler, the report."""
