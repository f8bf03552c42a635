"""hingecap: the workflow stages (detect, sync, triangulate, analyze, report), their shared basics and contracts, and the synthetic data, examples and evaluation around them."""
