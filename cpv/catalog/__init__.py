"""The serverless catalog: each model's index beside its data, listed from the storage."""
