"""Small helpers every API module shares: auth guards. (Cursors: app/paging.py.)"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask_babel import gettext as _
from flask_login import current_user

from app.errors import ServiceError


def login_required_api(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            raise ServiceError(_("请先登录。"), code="unauthorized", status=401)
        return view(*args, **kwargs)

    return wrapper
