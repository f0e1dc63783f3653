"""Helpers shared by the test suite: real databases and real HTTP servers."""
