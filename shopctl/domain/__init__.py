"""The shop's language: entities, value objects, rules and errors. Standard library only."""
