"""Every Redis key the application builds, and nothing else: one place to see the whole schema.

Keys are named here so that no two modules can invent colliding names, so that every one carries
the configurable prefix (``P = app.config["REDIS_KEY_PREFIX"]``: deployments and test runs share a
Redis), and so that their hash tags (Redis Cluster) are decided together. The modules that use
them own their meaning: the counters (``app.engagement.counters``), the views buffer
(``app.engagement.views``), transcode progress (``app.media.progress``), the periodic jobs'
locks and claims (``app.schedule``) and the metrics of unscraped processes
(``app.observability.shared``). Libraries name their own keys: RQ under its
fixed ``rq:`` (``app.queue``), Flask-Limiter under ``RATELIMIT_KEY_PREFIX`` (config.py)::

    P{w:<id>}:n                hash   likes, comments, views of one work
    P{w:<id>}:f                hash   the work's fence: seq, gate, t:<token> per write in flight
    P{w:<id>}:pv               string views recorded but not yet flushed to SQL
    P{w:<id>}:seen:<yyyymmdd>  set    viewers already counted that day (expires after two days)
    P{views}:dirty             set    ids of works whose :pv may be non-zero
    P{repair}:works            set    ids of works whose counters must be recounted from SQL
    P{jobs}:lock:<name>        string lock so one rebuild / reconcile / flush runs at a time
    P{jobs}:intact             string set by every reconcile / rebuild; gone = Redis lost data
    P{r:<metric>:<scope>}      zset   ranking; members are zero-padded work ids (:func:`member`)
                                      metric: likes | hot; scope: all | c:<campaign id> |
                                      i:<industry> | p:<province>
    P{r:<...>}:tmp:<nonce>     zset   a ranking being rebuilt, RENAMEd over the live one
    Pmedia:progress:<work id>  string transcode progress 0..1 (a display value with a TTL)
    P{schedule}:lock:<job>     string redis-py lock: one run of a periodic job at a time
    P{schedule}:claim:<job>    string the job ran in this interval (time of the run; expires)
    P{metrics}:transcode:seconds   hash  b<i>: transcodes in bucket i, sum, count
    P{metrics}:transcode:failures  hash  <reason>: failed attempts
    P{metrics}:reconcile           hash  runs, last_run, last_drift, drift:<counter>
    P{metrics}:media_cleanup       hash  uploads_aborted, parts_orphaned, works_requeued
    Pmedia:orphan_uploads          hash  multipart upload id -> first seen with no session
    P{pc:<group>}:b            hash   the shared page cache (app.page_cache): one field per variant
                                      (path, normalised query, language); group: w:<id> | c:<id> |
                                      home | search | api:works | wall | campaigns
    P{pc:<group>}:g            string the group's generation: a purge INCRs it; a render stores
                                      its body only if it is unchanged since the render began
    P{pc:<group>}:l:<variant>  string single-flight lock: one render of an expired variant
    P{pc:<group>}:p            string the group was purged seconds ago: its renders read the
                                      primary, not the database replica (expires)
    P{rl:<scope>:<who>}:<n>/<s>    string a fixed window's count of a rate limit checked in the
                                      like's round trip (scope like-account | like-ip)
    P{sess:<user id>}          hash   signed-in browsers of one account remembered for reads and
                                      likes (app.auth.session_cache): g = the account's
                                      generation; <session hash> = an entry (expires)
    P{sess}:g                  string every account's generation, replaced by a bulk change

Hash tags. Every per-work counter key is tagged ``{w:<id>}``, so the Lua scripts that read and
write a work's counters, fence, pending views and viewer sets touch one slot. Every ranking has
its own tag, so rankings spread over the cluster and a rebuilt ranking (tagged like the live one)
can replace it with an atomic RENAME. The metrics share ``{metrics}`` so they are read in one
round trip. A page-cache group's body hash, generation and locks share ``{pc:<group>}``, so
the purge (INCR + DEL) and the conditional write stay in one slot while groups spread. Progress
keys are single-key operations and need no tag; the schedule's share
``{schedule}``.
"""

from __future__ import annotations

from flask import current_app

# Industry and province names are Chinese and stay readable in ranking keys; only characters
# that would break a hash tag, a glob pattern or the key's own separators are escaped.
_SCOPE_VALUE_SPECIALS = set("%{}[]*?\\: \t\r\n")


def prefix() -> str:
    return current_app.config["REDIS_KEY_PREFIX"]


def glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


# --------------------------------------------------------------------------------------------
# Counters and views (app.engagement).


def _work_tag(work_id: int) -> str:
    return f"{prefix()}{{w:{int(work_id)}}}"


def counts_key(work_id: int) -> str:
    return f"{_work_tag(work_id)}:n"


def fence_key(work_id: int) -> str:
    return f"{_work_tag(work_id)}:f"


def pending_views_key(work_id: int) -> str:
    return f"{_work_tag(work_id)}:pv"


def seen_key(work_id: int, day: str) -> str:
    return f"{_work_tag(work_id)}:seen:{day}"


def views_dirty_key() -> str:
    return f"{prefix()}{{views}}:dirty"


def repair_key() -> str:
    return f"{prefix()}{{repair}}:works"


def job_lock_key(name: str) -> str:
    return f"{prefix()}{{jobs}}:lock:{name}"


def intact_key() -> str:
    return f"{prefix()}{{jobs}}:intact"


def work_keys_pattern() -> str:
    """A SCAN pattern matching every per-work key."""
    return glob_escape(prefix()) + "{w:*"


def counted_work_id(key: str) -> int | None:
    """The work id of a counts hash or fence key; None for any other key."""
    head = f"{prefix()}{{w:"
    if not key.startswith(head):
        return None
    tag, _, rest = key[len(head) :].partition("}")
    return int(tag) if rest in (":n", ":f") and tag.isdigit() else None


def member(work_id: int) -> str:
    """A work's member in a ranking: ``%012d``, so that among equal scores Redis' reverse
    lexicographic order is newest work first, the same order the SQL fallback uses."""
    return f"{int(work_id):012d}"


def ranking_name(metric: str, scope_code: str, value: str = "") -> str:
    if scope_code == "all":
        return f"{metric}:all"
    return f"{metric}:{scope_code}:{_encode_scope_value(value)}"


def ranking_key(name: str) -> str:
    return f"{prefix()}{{r:{name}}}"


def ranking_temp_key(name: str, nonce: str) -> str:
    return f"{ranking_key(name)}:tmp:{nonce}"


def ranking_keys_pattern() -> str:
    """A SCAN pattern matching every ranking key, live or being rebuilt."""
    return glob_escape(prefix()) + "{r:*"


def parse_ranking_key(key: str) -> tuple[str, str, str, bool] | None:
    """(metric, scope code, scope value, is_temp) of a key built by :func:`ranking_key` or
    :func:`ranking_temp_key`; None for any other key. The parts are not validated here."""
    head = f"{prefix()}{{r:"
    if not key.startswith(head) or "}" not in key:
        return None
    name, _, rest = key[len(head) :].partition("}")
    is_temp = rest.startswith(":tmp:")
    if rest and not is_temp:
        return None
    parts = name.split(":", 2)
    if len(parts) == 2 and parts[1] == "all":
        return parts[0], "all", "", is_temp
    if len(parts) == 3 and parts[1] != "all":
        return parts[0], parts[1], _decode_scope_value(parts[2]), is_temp
    return None


def _encode_scope_value(value: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _SCOPE_VALUE_SPECIALS else c for c in value)


def _decode_scope_value(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "%" and _is_hex(text[i + 1 : i + 3]):
            out.append(chr(int(text[i + 1 : i + 3], 16)))
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _is_hex(text: str) -> bool:
    return len(text) == 2 and all(c in "0123456789ABCDEFabcdef" for c in text)


# --------------------------------------------------------------------------------------------
# Media (app.media.progress).


def progress_key(work_id: int) -> str:
    return f"{prefix()}media:progress:{work_id}"


# --------------------------------------------------------------------------------------------
# The periodic jobs (app.schedule).


def schedule_lock_key(job: str) -> str:
    return f"{prefix()}{{schedule}}:lock:{job}"


def schedule_claim_key(job: str) -> str:
    return f"{prefix()}{{schedule}}:claim:{job}"


# --------------------------------------------------------------------------------------------
# Metrics of processes nobody scrapes (app.observability.shared).


def _metrics_tag() -> str:
    return f"{prefix()}{{metrics}}"


def transcode_seconds_key() -> str:
    return f"{_metrics_tag()}:transcode:seconds"


def transcode_failures_key() -> str:
    return f"{_metrics_tag()}:transcode:failures"


def reconcile_metrics_key() -> str:
    return f"{_metrics_tag()}:reconcile"


def media_cleanup_key() -> str:
    return f"{_metrics_tag()}:media_cleanup"


def orphan_uploads_key() -> str:
    """Hash: multipart upload id -> when the clean-up first found it with no open session."""
    return f"{prefix()}media:orphan_uploads"


# --------------------------------------------------------------------------------------------
# The shared page cache (app.page_cache).


def _page_cache_tag(group: str) -> str:
    return f"{prefix()}{{pc:{group}}}"


def page_cache_key(group: str) -> str:
    return f"{_page_cache_tag(group)}:b"


def page_cache_generation_key(group: str) -> str:
    return f"{_page_cache_tag(group)}:g"


def page_cache_purged_key(group: str) -> str:
    """Set by a purge for a few seconds while a database replica is in use: the group's renders
    read the primary meanwhile (app/db_replica.py)."""
    return f"{_page_cache_tag(group)}:p"


def page_cache_lock_key(group: str, variant: str) -> str:
    return f"{_page_cache_tag(group)}:l:{variant}"


# --------------------------------------------------------------------------------------------
# Signed-in browsers remembered for reads and likes (app.auth.session_cache).


def session_cache_key(user_id: int) -> str:
    return f"{prefix()}{{sess:{int(user_id)}}}"


def session_cache_everyone_key() -> str:
    return f"{prefix()}{{sess}}:g"


# --------------------------------------------------------------------------------------------
# Rate limits checked in the like's own round trip (app.rate_limits.WindowLimits).


def rate_window_key(scope: str, who: str, amount: int, seconds: int) -> str:
    """``P{rl:<scope>:<who>}:<amount>/<seconds>``: one fixed window's count. The windows of one
    caller in one scope share a tag, so one script checks them all."""
    return f"{prefix()}{{rl:{scope}:{_encode_scope_value(who)}}}:{amount}/{seconds}"
