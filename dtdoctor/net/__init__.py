"""Network primitives shared by the checks: name resolution and TCP connects."""
