"""Embedding the chat in other pages: ``/embed`` snippets, ``<citeqa-chat>`` (``/widget.js``), the iframe frame."""
