"""Tests for verigraph.compile: function, In/Out, shared variables, config."""
