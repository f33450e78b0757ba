"""Theano's ``theano.sandbox`` namespace, kept for tutorial compatibility."""
