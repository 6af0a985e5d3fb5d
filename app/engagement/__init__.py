"""Likes, comments and views, counted in Redis and kept exact against SQL (docs/counters.md).

- ``counters``: every Redis key and operation (counts, the write fence, rankings, views buffer)
- ``measure``: what SQL says the numbers are
- ``services``: like/unlike, counts, rankings, publication and comment hooks
- ``views``: one view per viewer per work per day; batched flush to SQL
- ``reconcile``: recount, reconcile, rebuild, the periodic loop
- ``cli``: ``flask counters rebuild | reconcile | flush-views | run``

No blueprint yet: pages and API routes call ``services`` once they exist.
"""
