"""The server: ``create_app`` wires one app around a loaded engine; settings, the engine gate, log redaction."""
