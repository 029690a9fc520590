"""Browser tests of the console (a package, so its conftest does not shadow tests/conftest.py)."""
