"""Adapters: database, security, payments, configuration."""
