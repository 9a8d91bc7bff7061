"""ASGI middlewares every request passes: Host allow-list, body limit, token, Gradio firewall, chat language."""
