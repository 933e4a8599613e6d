"""The supernode: scheduler, CDN cache, piece server, preheat engine."""
