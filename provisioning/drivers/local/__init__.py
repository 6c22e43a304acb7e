"""The local driver family."""
