"""How long a text field may be and how many items one request may name: one home for the limits
that services enforce (with their own messages), the API's schemas declare (``maxLength`` and
``maxItems`` in /api/v1/openapi.json) and the pages' forms repeat (``maxlength``).

Leaf module: it imports nothing, so models, services, schemas and templates can all read it.
Page sizes are not here: they belong to paging (app/paging.py and each list's service).
"""

from __future__ import annotations

# Works (app/works/services.py).
TITLE_MAX = 120
SUMMARY_MAX = 500
BODY_MAX = 20_000  # a story's Markdown

# Collectives (app/catalog/collectives.py).
PROMISE_MAX = 1000
CHANNEL_MAX = 255

# Accounts (app/auth/services.py). A password long enough for any passphrase, short enough that
# hashing it cannot be used to burn CPU.
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
DISPLAY_NAME_MAX_LENGTH = 32
EMAIL_MAX_LENGTH = 254

# Moderation: a moderator's or reporter's reason (app/moderation/audit.py), and how many works
# one bulk review action names.
REASON_MAX = 500
BULK_MAX = 100

# The featured wall: how many works it holds, and a curator's note on one.
WALL_MAX = 48
NOTE_MAX = 255

# Search: only the first QUERY_MAX characters of a query count.
QUERY_MAX = 100
