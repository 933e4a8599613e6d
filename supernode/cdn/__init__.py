"""CDN: fetch each task from its source once, cut it into wrapped pieces, publish them as they land."""
