"""Test helpers: real loopback servers, factories for settings and results."""
