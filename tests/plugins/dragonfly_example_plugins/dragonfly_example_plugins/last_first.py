"""``last-first``: a piece-selection policy that offers the highest piece numbers first.

Useful for formats whose index sits at the end of a blob (zip, stargz/eStargz footers): the footer reaches a peer
before the body. It implements ``supernode.scheduler.policy.PiecePolicy``.
"""


class LastFirst:
    name = "last-first"

    def order(self, pieces, view, rng):
        return sorted(pieces, reverse=True)
