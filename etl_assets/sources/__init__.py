"""Source readers: turn the data a source points at into chunked Arrow tables."""
