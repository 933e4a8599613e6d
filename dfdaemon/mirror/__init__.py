"""The dfdaemon registry mirror: routes, upstream selection, passthrough, blobs through P2P, cache, access."""
