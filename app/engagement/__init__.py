"""Likes, comments and views, counted in Redis and kept exact against SQL (docs/counters.md).

- ``counters``: the Redis scripts of the counts and the write fence, and every like's ranking
  increments (key names: ``app/redis_keys.py``)
- ``scoring``: what a ranking is (metric × scope) and how a work scores in it; pure
- ``rankings``: ranking pages for readers (``top_works``, its cursor; SQL fallback) and the bulk
  reads and writes of whole rankings that reconcile and rebuild use
- ``measure``: what SQL says the numbers are
- ``services``: like/unlike (``like_gate``: the like's rate limits and fence in one round trip),
  counts, rankings, publication and comment hooks
- ``views``: one view per viewer per work per day, buffered in Redis; batched flush to SQL
- ``reconcile``: recount, reconcile, rebuild, the scheduled repair (app/schedule.py runs it)
- ``cli``: ``flask counters rebuild | reconcile | flush-views``
- ``comments``: post, reply, list, delete comments (docs/comments.md); ``comment_limits`` the
  rate limits of posting them
- ``work_lists``: works in the rankings' order, and works with their counts (lists, the API's
  work dictionaries)

Pages (app/pages/: the work page, its comment section and no-JS comment forms) and API routes
call ``services``, ``comments`` and ``work_lists``.
"""
