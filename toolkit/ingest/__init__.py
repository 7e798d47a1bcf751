"""Ingest: from the Webex APIs to stored rows.

Every HTTP call goes through `http` (one GET with retries) over `transport` (the
configured `requests` session, and the prepared GETs of a worker to its origin) with a
token from `auth` (renewed by `tokens`) and the policy of `retry`; on
those, the events client (`client`) and List Meetings (`discovery`), reading items and
their ids (`items`), Arrow batches (`events`), how many sessions to fetch at once
(`pacing`), the fetching workers (`fetching`), the one writer that joins their pages
to the record in short transactions (`joining`), the sync that wires them together
(`sync`, with `options`) and the scheduled job's plan (`update`). It imports
`toolkit.store`, `toolkit.config` and `toolkit.errors`, never the analysis, report or
command layers.
"""
