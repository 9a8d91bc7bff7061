"""UI stage: the Gradio chat, the REST API and the intranet embedding, served by one app.

By job: ``server`` (``create_app``, settings, the engine gate), ``middleware`` (what every request
passes), ``api`` (the REST contract), ``chat`` (the Gradio page), ``pages`` (the document view) and
``widget`` (snippets and ``<citeqa-chat>``).
"""
