"""The signals of vote integrity (刷票), measured on the likers of one work in one time window.

Pure functions over plain rows: no SQL, no Flask. ``app.moderation.integrity`` loads the rows
(the likes, their accounts, the activity of a sample of those accounts) and stores what
``measure`` returns as a flag's evidence. Every signal is a share between 0 and 1; the score is
their weighted sum, 0–100, and a flag opens at ``THRESHOLD``. docs/moderation.md says what each
signal means, its weight and why; ``bench/integrity.py`` measures them on a simulated campaign
day (and ``--fit`` searches the weights that separate its farms from its honest crowds best).

The trade's staple is not fresh accounts but aged ones (养号): accounts registered in a batch
days or weeks ahead, left idle, then spent on one work. What such a batch cannot hide is that
its members were made together (*cohort*), wake up for this like (*dormant*), have no life on
the site (*no life elsewhere*), often carry templated names (*look-alike*) and are driven by a
script (*timing*). An office mobilising its staff is a burst from one network too, but its
people joined over months and use the site: it scores on burst and subnet only.

An account whose e-mail address was unconfirmed at its like, or confirmed just before it
(``Liker.unproven``, where REQUIRE_VERIFIED_EMAIL asks for confirmation), counts as fresh: an
address nobody has shown to be theirs is what a farm saves on.

Adding a signal: a field on ``Liker`` filled by ``integrity.load_likers``, a share computed in
``measure``, a weight in ``WEIGHTS`` (measured with the bench) and a line in the docs.
"""

from __future__ import annotations

import ipaddress
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

THRESHOLD = 50.0
# Points out of 100 for each signal at full strength. Measured with bench/integrity.py (--fit)
# and explained in docs/moderation.md; a weight of 0 means "shown to moderators, not scored".
WEIGHTS: dict[str, float] = {
    "burst": 5,
    "subnet": 5,
    "fresh": 15,
    "cohort": 25,
    "cohort_origin": 5,
    "dormant": 30,
    "no_life": 5,
    "look_alike": 5,
    "timing": 5,
    "rare_domain": 0,
}

FRESH = timedelta(minutes=30)  # an account this young at its like is fresh
COHORT_SPAN = timedelta(hours=1)  # a batch: accounts registered within this span of each other
MIN_COHORT = 10  # fewer accounts registered together than this is no batch worth a look
DORMANT = timedelta(days=14)  # no like or comment for this long before the window: dormant
# "No life elsewhere" counts fully for accounts up to this age at their like, half from
# NO_LIFE_HALF on (linearly between): age lowers the weight, it does not erase it.
NO_LIFE_FULL = timedelta(days=30)
NO_LIFE_HALF = timedelta(days=180)
LOOK_ALIKE_MIN = 5  # accounts sharing one name template before they count as look-alike
MIN_TIMED = 20  # likes needed before their spacing says anything
# The gaps between likes of people acting on their own vary as much as their mean (coefficient
# of variation about 1, a little over 0.8 at worst for the crowds the bench measures); a script
# on a timer varies far less. Timing counts from PEOPLE_CV down, fully at SCRIPT_CV.
PEOPLE_CV = 0.6
SCRIPT_CV = 0.3
EVIDENCE_SAMPLE = 20  # accounts of a cohort listed by id in the evidence
# Mail providers anyone may use: a shared domain among these says nothing.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "qq.com", "foxmail.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn",
        "sohu.com", "139.com", "189.cn", "wo.cn", "aliyun.com", "tom.com", "21cn.com",
        "gmail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com", "icloud.com",
        "me.com", "proton.me", "protonmail.com", "example.com",
    }
)  # fmt: skip

_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Liker:
    """One like in the window and what is known of its account."""

    user_id: int
    liked_at: datetime
    like_ip: str | None
    registered_at: datetime
    registration_ip: str | None
    email: str
    display_name: str
    unproven: bool = False  # e-mail unconfirmed at the like, or confirmed just before it


@dataclass(frozen=True)
class Activity:
    """What an account did on the site before the window (probed for a sample of likers)."""

    commented: bool  # ever, before the window
    liked_elsewhere: bool  # liked a work of another collective, ever, before the window
    active_recently: bool  # liked or commented within DORMANT before the window


@dataclass
class CohortEvidence:
    """The batch: when and where its accounts were made and what they did before."""

    size: int
    registered_from: str
    registered_to: str
    origins: list[tuple[str, int]]  # busiest registration subnets and their accounts
    probed: int  # cohort members whose activity was probed
    commented: int
    liked_elsewhere: int
    active_recently: int
    sample_user_ids: list[int]


@dataclass
class Signals:
    likes: int
    baseline_per_window: float
    burst_ratio: float
    top_subnet: str | None
    top_subnet_share: float
    fresh_share: float
    cohort_share: float
    cohort_origin_share: float
    probed: int
    dormant_share: float
    no_life_share: float
    look_alike_share: float
    templates: list[tuple[str, int]]
    top_domain: str | None
    top_domain_share: float
    gap_cv: float | None
    timed_share: float = 1.0  # the share of the likes whose gaps gap_cv measures
    cohort: CohortEvidence | None = None
    components: dict[str, float] = field(default_factory=dict)
    score: float = 0.0

    def as_evidence(self) -> dict[str, Any]:
        return asdict(self)


def subnet_of(ip: str | None) -> str | None:
    """The /24 of an IPv4 address or the /48 of an IPv6 one: what one office network shares."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def _share(part: float, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


# --------------------------------------------------------------------------------------------
# The pieces.


def burst_component(ratio: float) -> float:
    """A burst counts from 3× the work's usual rate, fully at 10×."""
    return _clamp((ratio - 3) / 7)


def densest_cohort(likers: Sequence[Liker], span: timedelta = COHORT_SPAN) -> list[Liker]:
    """The largest group of likers whose accounts were all registered within ``span``."""
    ordered = sorted(likers, key=lambda liker: liker.registered_at)
    best_start, best_end, start = 0, 0, 0
    for end, liker in enumerate(ordered):
        while liker.registered_at - ordered[start].registered_at > span:
            start += 1
        if end + 1 - start > best_end - best_start:
            best_start, best_end = start, end + 1
    return ordered[best_start:best_end]


def no_life_weight(age: timedelta) -> float:
    if age <= NO_LIFE_FULL:
        return 1.0
    if age >= NO_LIFE_HALF:
        return 0.5
    return 1.0 - 0.5 * (age - NO_LIFE_FULL) / (NO_LIFE_HALF - NO_LIFE_FULL)


def email_template(email: str) -> str:
    """``user0042@rare.cn`` → ``user#@rare.cn``: sequential local parts share one template."""
    local, _at, domain = (email or "").lower().rpartition("@")
    return f"{_DIGITS.sub('#', local)}@{domain}"


def name_template(name: str) -> str:
    return _DIGITS.sub("#", (name or "").strip().lower())


def _templated(template: str) -> bool:
    # Digits alone (QQ numbers, phone numbers: "#@qq.com") are how most people sign up here.
    local = template.partition("@")[0]
    return "#" in local and bool(local.replace("#", "").strip("._-"))


def look_alike_groups(likers: Sequence[Liker]) -> dict[str, set[int]]:
    """The e-mail and display-name templates that LOOK_ALIKE_MIN or more likers share (names
    as ``name:<template>``), each with its accounts."""
    groups: dict[str, set[int]] = {}
    for liker in likers:
        for template in (email_template(liker.email), "name:" + name_template(liker.display_name)):
            if _templated(template.removeprefix("name:")):
                groups.setdefault(template, set()).add(liker.user_id)
    return {t: ids for t, ids in groups.items() if len(ids) >= LOOK_ALIKE_MIN}


def largest_templates(groups: dict[str, set[int]]) -> list[tuple[str, int]]:
    return sorted(((t, len(ids)) for t, ids in groups.items()), key=lambda item: (-item[1], item[0]))[:3]


def domain_of(email: str) -> str:
    return (email or "").lower().rpartition("@")[2]


def gap_cv(times: Iterable[datetime]) -> float | None:
    """How much the gaps between likes vary (standard deviation / mean): about 1 for people
    acting independently, near 0 for a script on a timer. None below MIN_TIMED likes."""
    ordered = sorted(times)
    if len(ordered) < MIN_TIMED:
        return None
    gaps = [(b - a).total_seconds() for a, b in zip(ordered, ordered[1:], strict=False)]
    mean = sum(gaps) / len(gaps)
    if mean <= 0:
        return None
    return statistics.pstdev(gaps) / mean


def timing_component(cv: float | None) -> float:
    """0 for gaps as varied as people's (CV ≥ PEOPLE_CV), 1 for a script's (CV ≤ SCRIPT_CV)."""
    if cv is None:
        return 0.0
    return _clamp((PEOPLE_CV - cv) / (PEOPLE_CV - SCRIPT_CV))


# --------------------------------------------------------------------------------------------
# All together.


@dataclass
class Measured:
    signals: Signals
    suspects: list[int]

    def unprobed(self, weights: dict[str, float] | None = None) -> Measured:
        """The same measure as if no account's past had been probed."""
        self.signals.probed = 0
        self.signals.dormant_share = self.signals.no_life_share = 0.0
        if self.signals.cohort is not None:
            cohort = self.signals.cohort
            cohort.probed = cohort.commented = cohort.liked_elsewhere = cohort.active_recently = 0
        score(self.signals, weights)
        return self


def measure(
    likers: Sequence[Liker],
    activity: dict[int, Activity],
    *,
    baseline_per_window: float,
    weights: dict[str, float] | None = None,
) -> Measured:
    """Every signal of these likers, their score, and the accounts a moderator may void.
    ``activity`` covers the sample of them whose past was probed (none: those signals read 0)."""
    weights = WEIGHTS if weights is None else weights
    count = len(likers)
    burst_ratio = round(count / max(baseline_per_window, 1.0), 2)

    subnets = Counter(subnet_of(liker.like_ip) for liker in likers)
    subnets.pop(None, None)
    top_subnet, top_subnet_count = subnets.most_common(1)[0] if subnets else (None, 0)

    fresh = {
        liker.user_id for liker in likers if liker.liked_at - liker.registered_at <= FRESH or liker.unproven
    }

    # A batch made, then left to age: accounts made minutes before their like are the fresh
    # signal's (a viral share brings honest newcomers who all registered in the last hour).
    batch = densest_cohort([liker for liker in likers if liker.user_id not in fresh])
    cohort = batch if len(batch) >= MIN_COHORT else []
    origins = Counter(subnet_of(liker.registration_ip) for liker in cohort)
    origins.pop(None, None)
    origin_count = origins.most_common(1)[0][1] if origins else 0

    probed = [liker for liker in likers if liker.user_id in activity]
    dormant = [liker for liker in probed if not activity[liker.user_id].active_recently]
    no_life = sum(
        no_life_weight(liker.liked_at - liker.registered_at)
        for liker in probed
        if not (activity[liker.user_id].commented or activity[liker.user_id].liked_elsewhere)
    )

    groups = look_alike_groups(likers)
    alike = set().union(*groups.values()) if groups else set()
    domains = Counter(domain_of(liker.email) for liker in likers)
    rare = [(d, n) for d, n in domains.most_common() if d and d not in PUBLIC_MAIL_DOMAINS]
    top_domain, top_domain_count = rare[0] if rare else (None, 0)

    # A script's rhythm shows in the batch's own likes (other likes in the window would blur it),
    # and counts for the share of the likes it drives.
    cv = gap_cv(liker.liked_at for liker in (cohort or likers))
    timed_share = len(cohort) / count if cohort else 1.0

    signals = Signals(
        likes=count,
        baseline_per_window=round(baseline_per_window, 2),
        burst_ratio=burst_ratio,
        top_subnet=top_subnet,
        top_subnet_share=_share(top_subnet_count, count),
        fresh_share=_share(len(fresh), count),
        cohort_share=_share(len(cohort), count),
        cohort_origin_share=_share(origin_count, count),
        probed=len(probed),
        dormant_share=_share(len(dormant), len(probed)),
        no_life_share=_share(no_life, len(probed)),
        look_alike_share=_share(len(alike), count),
        templates=largest_templates(groups),
        top_domain=top_domain,
        top_domain_share=_share(top_domain_count, count),
        gap_cv=None if cv is None else round(cv, 3),
        timed_share=round(timed_share, 3),
        cohort=_cohort_evidence(cohort, activity, origins) if cohort else None,
    )
    score(signals, weights)
    # Whom a moderator may void: the batch, the fresh accounts, and the batch's naming scheme
    # beyond its densest hour (a template group that is mostly batch). Honest people who happen
    # to share a template (an office's employee numbers) are evidence, never suspects.
    batch_ids = {liker.user_id for liker in cohort}
    kin = [ids for ids in groups.values() if len(ids & batch_ids) * 2 >= len(ids)] if batch_ids else []
    suspects = batch_ids | fresh | set().union(*kin)
    return Measured(signals, sorted(suspects))


def components(signals: Signals) -> dict[str, float]:
    return {
        "burst": burst_component(signals.burst_ratio),
        "subnet": signals.top_subnet_share,
        "fresh": signals.fresh_share,
        "cohort": signals.cohort_share,
        "cohort_origin": signals.cohort_origin_share,
        "dormant": signals.dormant_share,
        "no_life": signals.no_life_share,
        "look_alike": signals.look_alike_share,
        "timing": timing_component(signals.gap_cv) * signals.timed_share,
        "rare_domain": signals.top_domain_share,
    }


def score(signals: Signals, weights: dict[str, float] | None = None) -> Signals:
    """Fill in the components and the score (0–100)."""
    weights = WEIGHTS if weights is None else weights
    parts = components(signals)
    signals.components = {name: round(value, 3) for name, value in parts.items()}
    signals.score = round(sum(weights[name] * value for name, value in parts.items()), 1)
    return signals


def _cohort_evidence(
    cohort: list[Liker], activity: dict[int, Activity], origins: Counter[str | None]
) -> CohortEvidence:
    probed = [activity[liker.user_id] for liker in cohort if liker.user_id in activity]
    step = max(1, len(cohort) // EVIDENCE_SAMPLE)
    return CohortEvidence(
        size=len(cohort),
        registered_from=cohort[0].registered_at.isoformat(),
        registered_to=cohort[-1].registered_at.isoformat(),
        origins=[(str(subnet), n) for subnet, n in origins.most_common(3)],
        probed=len(probed),
        commented=sum(a.commented for a in probed),
        liked_elsewhere=sum(a.liked_elsewhere for a in probed),
        active_recently=sum(a.active_recently for a in probed),
        sample_user_ids=[liker.user_id for liker in cohort[::step][:EVIDENCE_SAMPLE]],
    )
