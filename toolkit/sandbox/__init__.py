"""Sandbox: a loopback HTTP server that speaks the upstream API's contract.

It serves a dataset written by `toolkit.sample` (`server`), cut into pages with
opaque `next` tokens (`pages`), over a small threaded HTTP server (`http`), with
the fault options tests and demos use (`faults`: 429s, 5xx, latency, hostile
pages). It imports `toolkit.sample`, `toolkit.config` and `toolkit.errors` only.
"""

from toolkit.sandbox.faults import Faults, fault_options
from toolkit.sandbox.server import DEFAULT_TOKEN, Sandbox, serve

__all__ = ["DEFAULT_TOKEN", "Faults", "Sandbox", "fault_options", "serve"]
