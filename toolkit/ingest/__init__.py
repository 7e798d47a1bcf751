"""Ingest: from the List Compliance Events API to stored rows.

The HTTP client (`client`), event ids, validation and Arrow batches (`events`), how
many sessions to fetch at once (`pacing`), the fetching workers (`fetching`), the one
writer that joins their pages to the record in short transactions (`joining`), and
the sync that wires them together (`sync`, with `options`). It imports `toolkit.store`, `toolkit.config` and `toolkit.errors`,
never the analysis, report or command layers.
"""
