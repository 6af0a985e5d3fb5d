"""The vote-integrity detector: scored evidence for moderators, never an automatic verdict.

Accounts and likes are written straight into SQL with the times months of real use leave:
honest people joined over months and did other things on the site; a farm's accounts were made
in one batch and woke up for one work. bench/integrity.py measures the same on a whole day."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.engagement import counters, measure
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.models import (
    FlagStatus,
    IntegrityPass,
    Like,
    ModerationEvent,
    Role,
    User,
    VoteFlag,
    utcnow,
)
from app.moderation import flags as vote_flags
from app.moderation import integrity, vote_signals
from app.moderation.vote_signals import THRESHOLD, Activity, Liker
from tests.builders_support import make_work
from tests.integrity_support import accounts, farm_liking, give_life, like, many_networks, over_months
from tests.moderation_support import all_read_then_act
from tests.sign_in_support import PASSWORD, page_csrf_token, sign_in

BURST, HOUR, DAY = integrity.PASSES


@pytest.fixture
def world(make_collective, open_campaign):
    beijing = make_collective("北京地铁青年文明号", "交通运输", "北京")
    other = make_collective("上海银行青年文明号", "金融", "上海")
    work = make_work(beijing, open_campaign, title="站台上的温暖守候")
    elsewhere = make_work(other, open_campaign, title="柜台前的微笑")
    return {"work": work, "elsewhere": elsewhere, "now": utcnow()}


def measured(run: integrity.Run, work) -> list[integrity.Measurement]:
    return [m for m in run.measurements if m.work_id == work.id]


# --- the signals, each on its own --------------------------------------------------------------


def test_a_burst_of_brand_new_accounts_from_one_subnet_is_flagged(world):
    now, work = world["now"], world["work"]
    fresh = accounts(60, registered=now - timedelta(minutes=10), prefix="fresh")
    like(fresh, work, at=now - timedelta(minutes=5), ip=lambda i: f"203.0.113.{i % 200 + 1}")
    flags = integrity.detect(now=now)
    assert [f.work_id for f in flags] == [work.id]
    assert flags[0].score >= THRESHOLD
    assert '"top_subnet": "203.0.113.0/24"' in flags[0].evidence and '"fresh_share": 1.0' in flags[0].evidence
    assert sorted(vote_flags.suspect_ids(flags[0])) == sorted(u.id for u in fresh)


def test_where_addresses_must_be_confirmed_a_liker_who_confirmed_just_before_counts_as_fresh(app, world):
    app.config["REQUIRE_VERIFIED_EMAIL"] = True
    now, work = world["now"], world["work"]
    people = accounts(30, registered=over_months(now), prefix="p")
    for n, person in enumerate(people):  # a third confirmed long ago, the rest minutes before the like
        person.email_verified_at = person.created_at if n < 10 else now - timedelta(minutes=12)
    db.session.commit()
    like(people, work, at=now - timedelta(minutes=4), ip=many_networks)
    signals = integrity.measure_work(work, now - BURST.window, now, thorough=True).signals
    assert signals.fresh_share == pytest.approx(20 / 30, abs=0.001)


def test_a_batch_made_within_one_hour_weeks_ago_liking_from_many_networks_is_flagged(world):
    now, work = world["now"], world["work"]
    made = now - timedelta(days=20)
    batch = accounts(
        80,
        registered=lambda i: made + timedelta(seconds=40 * i),
        prefix="batch",
        registration_ip=many_networks,
    )
    like(batch, work, at=lambda i: now - timedelta(seconds=5 + 6 * i), ip=many_networks)
    (flag,) = integrity.detect(now=now)
    evidence = vote_flags.open_flags(_national(world)).pop().evidence
    assert flag.score >= THRESHOLD
    assert evidence["cohort_share"] == 1.0 and evidence["top_subnet_share"] < 0.05
    assert evidence["cohort"]["size"] == 80
    assert evidence["cohort"]["registered_from"] == made.isoformat()
    assert sorted(vote_flags.suspect_ids(flag)) == sorted(u.id for u in batch)


def test_the_cohort_shows_the_subnet_its_accounts_were_registered_from(world):
    now, work = world["now"], world["work"]
    made = now - timedelta(days=12)
    batch = accounts(
        40, registered=lambda i: made + timedelta(seconds=60 * i), prefix="yx",
        registration_ip=lambda i: f"103.21.40.{i + 2}",
    )  # fmt: skip
    like(batch, work, at=now - timedelta(minutes=3), ip=many_networks)
    result = integrity.measure_work(work, now - BURST.window, now, thorough=True)
    assert result.signals.cohort_origin_share == 1.0
    assert result.signals.cohort.origins == [("103.21.40.0/24", 40)]


def test_dormant_accounts_are_those_without_a_like_or_comment_in_the_two_weeks_before(world):
    now, work, elsewhere = world["now"], world["work"], world["elsewhere"]
    people = accounts(40, registered=over_months(now), prefix="person")
    give_life(people[:10], elsewhere, at=now - timedelta(days=3))  # active this week
    give_life(people[10:20], elsewhere, at=now - timedelta(days=40))  # active, but long ago
    like(people, work, at=now - timedelta(minutes=4), ip=many_networks)
    signals = integrity.measure_work(work, now - BURST.window, now, thorough=True).signals
    assert signals.probed == 40 and signals.dormant_share == 0.75


def test_no_life_elsewhere_counts_whatever_the_age_but_old_accounts_at_half_weight(world):
    now, work, elsewhere = world["now"], world["work"], world["elsewhere"]
    young = accounts(20, registered=now - timedelta(days=5), prefix="young")
    old = accounts(20, registered=now - timedelta(days=365), prefix="old")
    lively = accounts(20, registered=now - timedelta(days=365), prefix="lively")
    like(lively, elsewhere, at=now - timedelta(days=100), ip="198.51.100.7")
    like(young + old + lively, work, at=now - timedelta(minutes=4), ip=many_networks)
    signals = integrity.measure_work(work, now - BURST.window, now, thorough=True).signals
    assert signals.no_life_share == pytest.approx((20 * 1.0 + 20 * 0.5) / 60, abs=0.001)


def test_look_alike_accounts_share_an_e_mail_or_name_template_but_qq_numbers_do_not():
    def liker(n, email, name):
        return Liker(n, utcnow(), None, utcnow(), None, email, name)

    sequential = [liker(n, f"yx{3000 + n}@mail-box.cn", name) for n, name in enumerate("赵钱孙李周吴")]
    named = [liker(10 + n, f"{letter}q@163.com", f"用户{8800 + n}") for n, letter in enumerate("abcde")]
    qq = [liker(20 + n, f"{123456 + n * 7919}@qq.com", "张伟") for n in range(30)]
    groups = vote_signals.look_alike_groups(sequential + named + qq)
    assert groups == {
        "yx#@mail-box.cn": {lk.user_id for lk in sequential},
        "name:用户#": {lk.user_id for lk in named},
    }


def test_likes_spaced_by_a_timer_score_on_timing_and_a_crowd_does_not():
    start = utcnow()
    rng = random.Random(3)
    script = [start + timedelta(seconds=120 * n + rng.uniform(-20, 20)) for n in range(30)]
    crowd = [start + timedelta(seconds=rng.uniform(0, 600)) for _ in range(300)]
    assert vote_signals.timing_component(vote_signals.gap_cv(script)) == 1.0
    assert vote_signals.timing_component(vote_signals.gap_cv(crowd)) == 0.0
    assert vote_signals.gap_cv(script[:5]) is None  # too few likes to say anything


def test_a_shared_company_domain_is_shown_but_not_scored(world):
    now, work, elsewhere = world["now"], world["work"], world["elsewhere"]
    staff = accounts(
        30, registered=over_months(now), prefix="staff", email=lambda i: f"staff{i}x@bj-power.com.cn"
    )
    give_life(staff, elsewhere, at=now - timedelta(days=2))
    like(staff, work, at=now - timedelta(minutes=2), ip=many_networks)
    signals = integrity.measure_work(work, now - BURST.window, now, thorough=True).signals
    assert (signals.top_domain, signals.top_domain_share) == ("bj-power.com.cn", 1.0)
    assert vote_signals.WEIGHTS["rare_domain"] == 0


def test_a_burst_counts_from_three_times_the_usual_rate_and_fully_at_ten():
    assert [vote_signals.burst_component(r) for r in (1, 3, 6.5, 10, 40)] == [0, 0, 0.5, 1, 1]


def test_subnets_group_ipv4_by_24_and_ipv6_by_48():
    assert vote_signals.subnet_of("203.0.113.77") == "203.0.113.0/24"
    assert vote_signals.subnet_of("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert vote_signals.subnet_of("not an address") is None and vote_signals.subnet_of(None) is None


# --- what must not be flagged -------------------------------------------------------------------


def test_an_office_of_300_long_standing_active_accounts_liking_within_two_minutes_from_one_address_stays_below_the_threshold(  # noqa: E501
    world,
):
    now, work, elsewhere = world["now"], world["work"], world["elsewhere"]
    rng = random.Random(300)
    staff = accounts(
        300, registered=over_months(now), prefix="staff", name=lambda i: f"职工{i}",
        email=lambda i: f"e{204100 + i}@bjsubway.com.cn",
        registration_ip=lambda i: f"61.135.20.{i % 250 + 2}",
    )  # fmt: skip
    give_life(staff, elsewhere, at=lambda i: now - timedelta(days=rng.uniform(1, 12)))
    like(staff, work, at=lambda i: now - timedelta(seconds=rng.uniform(1, 120)), ip="61.135.20.7")

    run = integrity.run_detector(now=now, force=True)

    (office,) = measured(run, work)  # the burst pass measured it; the batch passes saw no batch
    assert office.signals.likes == 300 and office.signals.top_subnet_share == 1.0
    assert office.signals.score < THRESHOLD
    assert run.flags == [] and db.session.scalar(sa.select(sa.func.count()).select_from(VoteFlag)) == 0


def test_an_ordinary_steady_stream_from_many_old_accounts_is_not_flagged(world):
    now, work, elsewhere = world["now"], world["work"], world["elsewhere"]
    old = accounts(200, registered=over_months(now), prefix="old")
    give_life(old[:120], elsewhere, at=now - timedelta(days=6))
    # 200 likes spread over the last 25 hours, from addresses all over: about 2 per window.
    rng = random.Random(25)
    like(old, work, at=lambda i: now - timedelta(minutes=rng.uniform(1, 1500)), ip=many_networks)
    assert integrity.detect(now=now, force=True) == []


def test_a_few_likes_are_never_a_burst(world):
    now = world["now"]
    fresh = accounts(integrity.MIN_LIKES - 1, registered=now - timedelta(minutes=2), prefix="few")
    like(fresh, world["work"], at=now - timedelta(minutes=1), ip="203.0.113.9")
    assert integrity.detect(now=now, force=True) == []


# --- slow drips ---------------------------------------------------------------------------------


def drip(world, *, likes: int, every: timedelta, start) -> list[User]:
    made = world["now"] - timedelta(days=9)
    batch = accounts(likes, registered=lambda i: made + timedelta(seconds=50 * i), prefix="drip")
    rng = random.Random(2)
    jitter = every.total_seconds() / 6
    like(
        batch,
        world["work"],
        at=lambda i: start + every * i + timedelta(seconds=rng.uniform(-jitter, jitter)),
        ip=many_networks,
    )
    return batch


def test_a_drip_too_slow_for_the_burst_window_is_flagged_by_the_hour_pass_within_an_hour(world):
    start = world["now"] - timedelta(hours=2)
    batch = drip(world, likes=60, every=timedelta(minutes=2), start=start)
    flagged_after = None
    for minute in range(1, 61):
        run = integrity.run_detector(now=start + timedelta(minutes=minute))
        assert all(m.pass_name != "burst" for m in run.measurements)  # never 20 likes in 15 minutes
        if run.flags:
            flagged_after = minute
            break
    assert flagged_after is not None and flagged_after <= 60
    (flag,) = db.session.scalars(sa.select(VoteFlag))
    evidence = json.loads(flag.evidence)
    assert evidence["pass"] == "hour" and evidence["cohort_share"] == 1.0
    assert evidence["gap_cv"] < vote_signals.SCRIPT_CV and evidence["components"]["timing"] == 1.0  # a timer
    assert set(vote_flags.suspect_ids(flag)) <= {u.id for u in batch}


def test_a_drip_too_slow_for_the_hour_window_is_flagged_by_the_day_pass(world):
    now = world["now"]
    drip(world, likes=30, every=timedelta(minutes=16), start=now - timedelta(hours=8))
    assert integrity.run_pass(HOUR, now).measurements == []  # under 20 likes in any hour
    run = integrity.run_pass(DAY, now)
    assert [f.work_id for f in run.flags] == [world["work"].id]


# --- running ------------------------------------------------------------------------------------


def test_each_pass_runs_when_it_is_due_and_once_whoever_asks(world):
    now = world["now"]
    assert integrity.run_detector(now=now).passes == ["burst", "hour", "day"]
    assert integrity.run_detector(now=now).passes == []  # another process, the same minute
    assert integrity.run_detector(now=now + timedelta(minutes=1)).passes == ["burst"]
    assert integrity.run_detector(now=now + timedelta(minutes=5)).passes == ["burst", "hour"]
    assert integrity.run_detector(now=now + timedelta(minutes=60)).passes == ["burst", "hour", "day"]
    last = dict(db.session.execute(sa.select(IntegrityPass.name, IntegrityPass.last_run_at)).tuples().all())
    assert last == dict.fromkeys(("burst", "hour", "day"), now + timedelta(minutes=60))


def test_running_again_updates_the_open_flag_instead_of_adding_one(world):
    now, work = world["now"], world["work"]
    first = accounts(40, registered=now - timedelta(minutes=10), prefix="a")
    like(first, work, at=now - timedelta(minutes=6), ip="203.0.113.5")
    integrity.detect(now=now)
    later = accounts(40, registered=now - timedelta(minutes=8), prefix="b")
    like(later, work, at=now - timedelta(minutes=2), ip="203.0.113.6")
    integrity.detect(now=now + timedelta(minutes=1))
    flags = list(db.session.scalars(sa.select(VoteFlag)))
    assert len(flags) == 1
    assert set(vote_flags.suspect_ids(flags[0])) == {u.id for u in first + later}


def test_the_database_holds_one_open_flag_per_work(world):
    now, work = world["now"], world["work"]

    def flag(status):
        return VoteFlag(
            work_id=work.id, score=60, evidence="{}", status=status, window_start=now, window_end=now
        )

    db.session.add_all([flag(FlagStatus.DISMISSED), flag(FlagStatus.VOIDED), flag(FlagStatus.OPEN)])
    db.session.commit()
    db.session.add(flag(FlagStatus.OPEN))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_measure_reads_at_most_max_likers_and_probes_at_most_sample_accounts(world, monkeypatch):
    now, work = world["now"], world["work"]
    monkeypatch.setattr(integrity, "MAX_LIKERS", 50)
    monkeypatch.setattr(integrity, "SAMPLE", 20)
    people = accounts(80, registered=over_months(now), prefix="p")
    like(people, work, at=lambda i: now - timedelta(seconds=10 * i + 1), ip=many_networks)
    signals = integrity.measure_work(work, now - BURST.window, now, thorough=True).signals
    assert (signals.likes, signals.probed) == (50, 20)


def test_the_accounts_past_is_probed_only_when_it_could_carry_the_score_to_the_threshold(world):
    now, work = world["now"], world["work"]
    people = accounts(60, registered=over_months(now), prefix="p")  # joined over months
    like(people, work, at=lambda i: now - timedelta(seconds=10 * i + 1), ip=many_networks)
    skipped = integrity.measure_work(work, now - BURST.window, now).signals
    probed = integrity.measure_work(work, now - BURST.window, now, thorough=True).signals
    # Even were all of them dormant with no life elsewhere, they would stay under the threshold.
    assert skipped.probed == 0 and probed.probed == 60 and probed.dormant_share == 1.0
    assert skipped.score < probed.score < THRESHOLD

    made = now - timedelta(days=20)
    batch = accounts(60, registered=lambda i: made + timedelta(seconds=50 * i), prefix="batch")
    like(batch, world["elsewhere"], at=now - timedelta(minutes=2), ip=many_networks)
    assert integrity.measure_work(world["elsewhere"], now - BURST.window, now).signals.probed == 60


def test_the_sample_spreads_over_the_whole_window():
    likers = [Liker(n, utcnow(), None, utcnow(), None, "", "") for n in range(1000)]
    picked = [liker.user_id for liker in integrity.sample(likers, 4)]
    assert picked == [0, 250, 500, 750]


def test_activity_is_what_an_account_did_before_the_window(world):
    now, work, elsewhere = world["now"], world["work"], world["elsewhere"]
    (person,) = accounts(1, registered=now - timedelta(days=90), prefix="p")
    like([person], elsewhere, at=now - timedelta(minutes=3), ip="198.51.100.1")  # inside the window
    start = now - BURST.window
    assert integrity.probe_activity([person.id], work.collective_id, start) == {
        person.id: Activity(commented=False, liked_elsewhere=False, active_recently=False)
    }


def test_the_cli_runs_every_pass(runner, world):
    result = runner.invoke(args=["moderation", "detect"])
    assert result.exit_code == 0 and "检测完成" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IntegrityPass)) == 3


# --- registration addresses ---------------------------------------------------------------------


def test_registering_on_the_page_records_the_address(client):
    client.get("/register")
    response = client.post(
        "/register",
        data={
            "csrf_token": page_csrf_token(client),
            "email": "newcomer@example.com",
            "display_name": "新来的",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
        environ_base={"REMOTE_ADDR": "203.0.113.44"},
    )
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "newcomer@example.com"))
    assert user.registration_ip == "203.0.113.44"


def test_registering_through_the_api_records_the_address(client):
    response = client.post(
        "/api/v1/auth/register",
        json={"email": "api-newcomer@example.com", "password": PASSWORD, "display_name": "接口用户"},
        environ_base={"REMOTE_ADDR": "2001:db8::44"},
    )
    assert response.status_code == 201
    user = db.session.scalar(sa.select(User).where(User.email == "api-newcomer@example.com"))
    assert user.registration_ip == "2001:db8::44"


# --- moderators ---------------------------------------------------------------------------------


def _national(world):
    national = db.session.scalar(sa.select(User).where(User.email == "national@example.com"))
    if national is None:
        national = User(
            email="national@example.com", display_name="全国", password_hash=PASSWORD, role=Role.MODERATOR
        )
        db.session.add(national)
        db.session.commit()
    return national


@pytest.fixture
def farm(world):
    batch, honest = farm_liking(world["work"], now=world["now"])
    (flag,) = integrity.detect(now=utcnow() + timedelta(seconds=1))
    return flag, batch, honest


def test_the_flags_page_shows_the_cohort_to_the_provinces_moderator(client, make_user, farm):
    flag, batch, _honest = farm
    sign_in(client, make_user(Role.MODERATOR, province="北京"))
    page = client.get("/moderation/flags").get_data(as_text=True)
    assert "站台上的温暖守候" in page and "这批账号" in page and "同批注册" in page
    assert "103.21.40.0/24（40）" in page  # where the batch was registered
    assert "yx#@mail-box.cn" in page and "用户#" in page  # the look-alike templates
    assert "yx3000@mail-box.cn" in page and "用户8800" in page  # sample accounts, read live
    assert "0 个评论过，0 个给其他集体点过赞，0 个此前14天有过活动" in page
    assert "作废这 40 个账号的全部点赞" not in page  # provincial moderators do not void


def test_a_moderator_of_another_province_does_not_see_the_flag(make_user, farm):
    flag, _batch, _honest = farm
    moderator = make_user(Role.MODERATOR, province="上海")
    assert vote_flags.open_flags(moderator) == []
    with pytest.raises(NotFound):
        vote_flags.dismiss_flag(moderator, flag.id)


def test_dismissing_a_flag_writes_one_audit_event(make_user, farm):
    flag, _batch, _honest = farm
    moderator = make_user(Role.MODERATOR, province="北京")
    vote_flags.dismiss_flag(moderator, flag.id, "单位组织职工集中点赞")
    assert flag.status == FlagStatus.DISMISSED
    assert [(e.action, e.target_id) for e in db.session.scalars(sa.select(ModerationEvent))] == [
        ("flag_dismiss", flag.work_id)
    ]


def test_two_moderators_dismissing_one_flag_at_once_close_it_once_with_one_event(
    app, make_user, farm, monkeypatch
):
    flag, _batch, _honest = farm
    flag_id = flag.id
    moderators = (make_user(Role.MODERATOR, province="北京").id, make_user(Role.MODERATOR).id)
    outcomes = all_read_then_act(
        app,
        monkeypatch,
        vote_flags,
        "get_flag",
        [
            lambda uid=uid: vote_flags.dismiss_flag(db.session.get(User, uid), flag_id, "单位组织")
            for uid in moderators
        ],
    )
    assert sorted(outcomes) == ["Conflict", "done"]
    assert _events("flag_dismiss") == 1


def test_a_dismissal_racing_a_void_leaves_the_flag_and_the_likes_as_the_one_that_acted_decided(
    app, make_user, farm, world, monkeypatch
):
    flag, _batch, _honest = farm
    flag_id, work_id = flag.id, world["work"].id
    national, provincial = make_user(Role.MODERATOR).id, make_user(Role.MODERATOR, province="北京").id
    void, dismiss = all_read_then_act(
        app,
        monkeypatch,
        vote_flags,
        "get_flag",
        [
            lambda: vote_flags.void_flag(db.session.get(User, national), flag_id, "同批注册的账号集中刷票"),
            lambda: vote_flags.dismiss_flag(db.session.get(User, provincial), flag_id, "单位组织"),
        ],
    )
    assert sorted((void, dismiss)) == ["Conflict", "done"]
    db.session.expire_all()
    decided = (
        db.session.get(VoteFlag, flag_id).status,
        measure.like_counts([work_id])[work_id],
        _events("likes_void"),
        _events("flag_dismiss"),
    )
    if void == "done":
        assert decided == (FlagStatus.VOIDED, 5, 40, 0)
    else:
        assert decided == (FlagStatus.DISMISSED, 45, 0, 1)


def _events(action: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(ModerationEvent).where(ModerationEvent.action == action)
    )


def test_a_national_moderator_voids_the_cohorts_likes_in_one_action_and_the_counters_stay_exact(
    client, make_user, farm, world
):
    flag, batch, honest = farm
    work = world["work"]
    assert counters.read_counts([work.id])[work.id].likes == 45
    sign_in(client, make_user(Role.MODERATOR))
    page = client.get("/moderation/flags").get_data(as_text=True)
    assert "作废这 40 个账号的全部点赞" in page
    response = client.post(
        f"/moderation/flags/{flag.id}/void",
        data={"csrf_token": page_csrf_token(client), "reason": "同批注册的账号集中刷票"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(VoteFlag, flag.id).status == FlagStatus.VOIDED
    left = set(db.session.scalars(sa.select(Like.user_id).where(Like.work_id == work.id)))
    assert left == {u.id for u in honest}
    assert measure.like_counts([work.id])[work.id] == 5 == counters.read_counts([work.id])[work.id].likes
    events = db.session.scalar(
        sa.select(sa.func.count()).select_from(ModerationEvent).where(ModerationEvent.action == "likes_void")
    )
    assert events == 40


def test_only_national_moderators_void(make_user, farm):
    flag, _batch, _honest = farm
    with pytest.raises(Forbidden):
        vote_flags.void_flag(make_user(Role.MODERATOR, province="北京"), flag.id, "刷票")


def test_a_flag_from_before_the_cohort_signals_still_renders(client, make_user, world):
    now = world["now"]
    db.session.add(
        VoteFlag(
            work_id=world["work"].id, score=60.0, window_start=now, window_end=now,
            evidence='{"likes": 30, "components": {"burst": 1, "fresh": 1, "single_purpose": 1}, '
            '"suspect_user_ids": [1]}',
        )
    )  # fmt: skip
    db.session.commit()
    sign_in(client, make_user(Role.ADMIN))
    response = client.get("/moderation/flags")
    assert response.status_code == 200 and "站台上的温暖守候" in response.get_data(as_text=True)
