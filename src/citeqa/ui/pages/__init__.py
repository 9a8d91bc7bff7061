"""Plain HTML pages of the app: a cited passage in its whole document (``/doc``)."""
