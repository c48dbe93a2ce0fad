"""``dtdoctor serve``: the checks on an interval, the latest run over HTTP (for DaemonSets and sidecars)."""
