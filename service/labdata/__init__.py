"""The companies dataset: a seeded generator and an idempotent loader."""
