"""The postgres driver family."""
