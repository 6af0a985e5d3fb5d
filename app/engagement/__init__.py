"""Likes, comments and views, counted in Redis and kept exact against SQL (docs/counters.md).

- ``counters``: every Redis key and operation (counts, the write fence, rankings, views buffer)
- ``measure``: what SQL says the numbers are
- ``services``: like/unlike, counts, rankings, publication and comment hooks
- ``views``: one view per viewer per work per day; batched flush to SQL
- ``reconcile``: recount, reconcile, rebuild, the scheduled repair
- ``cli``: ``flask counters rebuild | reconcile | flush-views | run``
- ``like_limits``: the rate limits of PUT/DELETE /api/v1/works/<id>/like (``app/api/likes.py``)
- ``comments``: post, reply, list, delete comments (docs/comments.md); ``comment_limits`` the
  rate limits of posting them
- ``work_lists``: works in the rankings' order, and works with their counts (lists, the API's
  work dictionaries)

Pages (app/pages/: the work page, its comment section and no-JS comment forms) and API routes
call ``services``, ``comments`` and ``work_lists``.
"""
