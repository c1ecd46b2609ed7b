"""Entry point: `python -m ari_app.ari.double --port 8088` prints the double's ARI URL and serves."""

from ari_app.ari.double.asterisk_double import main

main()
