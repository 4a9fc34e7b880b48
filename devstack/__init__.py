"""Development tooling beside the product: local SeaweedFS, process helpers, and `make run`.

Nothing in `service/` or `web/` imports this package; the tests, the benchmark and `make run` do.
"""
