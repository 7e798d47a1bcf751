"""Ingest: from the List Compliance Events API to stored rows.

Every HTTP call goes through `http` (the configured `requests` session, one GET with
retries) with a token from `auth` and the policy of `retry`; on those, the events
client (`client`), reading items and their ids (`items`), Arrow batches (`events`),
how many sessions to fetch at once (`pacing`) and the sync that drives them into the
store (`sync`). It imports `toolkit.store`, `toolkit.config` and `toolkit.errors`,
never the analysis, report or command layers.
"""
