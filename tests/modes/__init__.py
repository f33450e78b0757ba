"""Tests of verigraph.modes."""
