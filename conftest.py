"""Loaded before Django is set up: the test run's environment defaults."""

import os

os.environ.setdefault("DJANGO_TESTING", "1")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")
