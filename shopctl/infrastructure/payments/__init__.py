"""Payment gateway adapters (the mock provider; a real one would sit beside it)."""
