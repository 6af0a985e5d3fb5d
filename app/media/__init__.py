"""Media: upload sessions, storage keys and job ids, transcode jobs and their progress, the
upload pages and the file-serving route, and `flask media …`.

Above works (it uploads a work's film and reads the work's rules), below engagement. The
media worker (`media_worker/`) imports from here, never from `app.works`.
"""

from flask import Blueprint

bp = Blueprint("media", __name__)

from app.media import files, playlists, routes  # noqa: E402,F401
