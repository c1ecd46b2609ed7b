"""Kayako API v1 client, KB sync, the durable case outbox and a Kayako-compatible server."""
