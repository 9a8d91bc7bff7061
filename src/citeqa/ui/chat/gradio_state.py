"""Gradio's per-session state, kept small: no copy of any event's outputs, and a bounded count.

Gradio keeps, for every ``session_hash`` a client names, a copy of each event's outputs in the
session's config (``SessionState.config_values``), for its "deep link" feature. The chat's output is
the whole conversation's HTML (about 1.6 MB for 50 turns), and the hash is the client's choice: 800
page-load calls with new hashes took the server from 0.5 to 1.9 GB, never given back. This app
closes the deep-link route (``ui.middleware.firewall``), the only reader of those copies, so none is kept, and
at most ``STATE_SESSIONS`` sessions are remembered. Nothing of the chat lives in Gradio's state (its
conversations are ``ui.chat.session``'s), and a running event holds its own reference to its session, so
evicting one between events loses nothing.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from gradio.state_holder import SessionState, StateHolder

if TYPE_CHECKING:
    import gradio as gr
    from fastapi import FastAPI

STATE_SESSIONS = 1000  # Gradio's default is 10,000; each costs a few KB here, not megabytes


class _LeanSession(SessionState):
    """A session that keeps the components Gradio needs between events but no copy of their values."""

    def __init__(self, blocks: gr.Blocks) -> None:
        super().__init__(blocks)
        self.config_values = {}  # built for deep links only

    def _update_value_in_config(self, key: int, value: Any) -> None:
        return  # the deep-link copy of an output: never kept

    def _update_config(self, key: int) -> None:
        return


class LeanStateHolder(StateHolder):
    """Gradio's ``StateHolder`` making ``_LeanSession`` s, at most ``capacity`` of them (least recent out)."""

    def __getitem__(self, session_id: str) -> SessionState:
        if session_id not in self.session_data:
            self.session_data[session_id] = _LeanSession(self.blocks)
        self.update(session_id)  # moves it to the end and evicts past capacity
        self.time_last_used[session_id] = datetime.datetime.now()
        return self.session_data[session_id]


def install_lean_state(app: FastAPI, blocks: gr.Blocks, capacity: int = STATE_SESSIONS) -> None:
    """Give the Gradio app mounted in ``app`` a ``LeanStateHolder`` (before it has served anything)."""
    from gradio.routes import App

    mounted = [r.app for r in app.routes if isinstance(getattr(r, "app", None), App)]  # type: ignore[attr-defined]
    if len(mounted) != 1:
        raise RuntimeError(f"expected one mounted Gradio app, found {len(mounted)}")
    blocks.state_session_capacity = capacity
    holder = LeanStateHolder()
    holder.set_blocks(blocks)  # reads the capacity and points blocks.state_holder here
    mounted[0].state_holder = holder
