"""The Gradio chat page: its layout and CSS, the conversation flow, answers rendered as HTML, its script, sessions."""
