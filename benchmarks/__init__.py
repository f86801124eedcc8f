"""Benchmarks behind ``make bench``: numbers printed next to their goals, never tests.

``harness`` owns the shared machinery (the fake upstream, the real gateway under
gunicorn, timing loops, the report line); each other module measures one client
path through the gateway and is registered in ``__main__``.
"""
