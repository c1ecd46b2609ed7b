"""The kayako-voice application: CLI, settings, ARI client, Stasis app, storage, web surface."""
