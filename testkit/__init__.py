"""Test support, for the tests, the benchmarks and the soak: never part of the production install."""
