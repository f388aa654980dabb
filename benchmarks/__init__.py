"""Benchmarks and soak runs against the sandbox FHIR servers; each module runs with `python -m benchmarks.<name>`."""
