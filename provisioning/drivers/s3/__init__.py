"""The s3 driver family."""
