"""What every layer speaks: versions, records, metrics, results, errors, units, progress."""
