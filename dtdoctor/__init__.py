"""dtdoctor: diagnose whether a host can send events to Dynatrace."""

__version__ = "1.0.0"
