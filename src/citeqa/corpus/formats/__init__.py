"""Document formats: each turns a file's bytes into a ``Document`` (text, and blocks where the format has structure)."""
