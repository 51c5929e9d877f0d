"""Security adapters: password hashing (argon2id) and signed tokens (JWT)."""
