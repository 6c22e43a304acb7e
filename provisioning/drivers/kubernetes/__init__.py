"""The kubernetes driver family."""
