"""Training data for the project's own weights: procedural and layered triplets with exact flows."""
