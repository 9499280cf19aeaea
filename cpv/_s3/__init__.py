"""Adapter: the only code that imports boto3/botocore."""
