"""UI stage: the Gradio chat, the REST API and the intranet embedding page, served by one app."""
