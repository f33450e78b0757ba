"""Tests for verigraph.tensor."""
