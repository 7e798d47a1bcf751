"""Ingest: from the List Compliance Events API to stored rows.

The HTTP client (`client`), event ids, validation and Arrow batches (`events`), how
many sessions to fetch at once (`pacing`) and the sync that drives them into the
store (`sync`). It imports `toolkit.store`, `toolkit.config` and `toolkit.errors`,
never the analysis, report or command layers.
"""
