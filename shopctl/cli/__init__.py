"""The command line: Typer groups over the application's use cases. No business rules here."""
