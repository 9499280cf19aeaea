"""A model repository and what commands share: lock and journal, refs, sync, lifecycle, removal."""
