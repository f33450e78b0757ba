"""Tests of verigraph.checks: node and rewrite checks, reproducers, bisection."""
