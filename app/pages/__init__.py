"""Pages that show several capabilities at once: the top layer, beside the API.

The home page, a work's page (its media, counts, comment section and view counting) and a
collective's page read works, engagement and the catalog together, so they live here, above all
of them, rather than in ``app.works`` (which may not import engagement). They are routes of the
``works`` blueprint (endpoint names such as ``works.work_detail`` predate this package);
``comments`` is the blueprint of the comment forms that work without JavaScript.
"""
