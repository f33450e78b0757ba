"""Tests for verigraph.graph."""
