"""The per-host daemon: registry mirror, P2P downloader, dfget CLI and the peer upload server."""
