"""Benchmark: our one-pass transcode against (a) the same work as one bare ffmpeg command and
(b) the same outputs made one rendition per ffmpeg run (the MediaCMS / PeerTube way), and
against itself without the storyboard branch (what the seek previews cost).

    .venv/bin/python bench/transcode.py              # 60 s 1080p30 clip with audio
    .venv/bin/python bench/transcode.py --seconds 20  # a quicker run
    .venv/bin/python bench/transcode.py --storyboard-only --seconds 10 --repeat 4
        # ours with and without the storyboard branch, interleaved (ABBA…), least CPU counts

The three variants run one after another on the same source with the same encoder settings and
write the same files: 360p/720p/1080p faststart MP4s, an HLS variant of each (TS segments), a
poster JPEG and the storyboard sprite (in (b) one more run, as PeerTube makes storyboards in a
job of their own). ``ours_no_storyboard`` is ours with ``storyboard=False``.

(a) is a hand-written argv with no Python around it; the gap to it is what our
wrapper costs (probing, progress parsing, the master playlist). (b) decodes the source once per
rung and encodes the audio once per rung, which is exactly what the one-pass design saves.

Wall and CPU seconds are measured per variant (CPU = ``getrusage`` deltas of the children plus
this process), best of ``--repeat`` runs. The last line printed is one JSON object with the
figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media_worker import hls, ladder  # noqa: E402
from media_worker import probe as pr  # noqa: E402
from media_worker import storyboard as sb  # noqa: E402
from media_worker import transcode as tc  # noqa: E402

FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]


def make_source(path: Path, seconds: int, size: str = "1920x1080") -> None:
    """A 30 fps H.264 High/AAC clip at a phone camera's bitrate (~16 Mbit/s at 1080p), with
    CABAC and B-frames, so decoding it costs what decoding a real upload costs."""
    width, height = (int(n) for n in size.split("x"))
    rate = max(16, round(16 * width * height / (1920 * 1080)))
    subprocess.run(
        [*FFMPEG,
         "-f", "lavfi", "-i", f"testsrc2=s={size}:r=30:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f=440:sample_rate=48000:d={seconds}",
         "-c:v", "libx264", "-preset", "superfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
         "-b:v", f"{rate}M", "-maxrate", f"{rate * 5 // 4}M", "-bufsize", f"{rate * 5 // 4}M",
         "-c:a", "aac", "-b:a", "192k", "-ac", "2", "-shortest", "-movflags", "+faststart",
         str(path)],
        check=True,
    )  # fmt: skip


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime


def measure(run: Callable[[Path], None], out: Path, repeat: int) -> tuple[float, float]:
    """(wall, cpu) seconds of the fastest of ``repeat`` runs, each into a fresh ``out``."""
    best: tuple[float, float] | None = None
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        cpu0, wall0 = _cpu(), time.perf_counter()
        run(out)
        wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
        if best is None or wall < best[0]:
            best = (wall, cpu)
    assert best is not None
    return best


def _ladder_args(seconds: float) -> tuple[float, int]:
    """Poster time and GOP as the pipeline picks them for a 30 fps source."""
    return ladder.poster_time(seconds), 30 * hls.SEGMENT_SECONDS


def _x264(preset: str, gop: int) -> list[str]:
    return [
        "-c:v", "libx264", "-preset", preset, "-crf", str(tc.DEFAULT_CRF), "-profile:v", "high",
        "-pix_fmt", "yuv420p", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-force_key_frames", f"expr:gte(t,n_forced*{hls.SEGMENT_SECONDS})",
    ]  # fmt: skip


def _hls(name: str) -> str:
    return (
        f"f=hls:hls_time={hls.SEGMENT_SECONDS}:hls_playlist_type=vod:hls_flags=independent_segments"
        f":hls_segment_type=mpegts:hls_segment_filename=hls/{name}/seg_%05d.ts]hls/{name}/index.m3u8"
    )


RUNGS = [("360p", 640, 360, "1000k", "2000k"), ("720p", 1280, 720, "3000k", "6000k"),
         ("1080p", 1920, 1080, "6000k", "12000k")]  # fmt: skip


def _storyboard(seconds: float) -> sb.StoryboardPlan:
    return sb.plan_storyboard(seconds, ladder.RenditionPlan(ladder.LADDER[2], 1920, 1080))


def _storyboard_filter(seconds: float) -> str:
    plan = _storyboard(seconds)
    return f"fps=fps=1/{plan.interval},scale={plan.width}:{plan.height},tile={plan.tile}"


STORYBOARD_OUT = ["-frames:v", "1", "-update", "1", "-q:v", "5", sb.SPRITE]


def bare_command(source: Path, seconds: float, preset: str) -> list[str]:
    """(a) The whole job as one hand-written ffmpeg command: the same options as ours (threads
    included), so the gap to it is only what the Python around ours costs."""
    poster_at, gop = _ladder_args(seconds)
    graph = (
        "[0:v]fps=fps=30,scale=1920:1080,format=yuv420p,setsar=1,split=5[v2][b][c][p][s];"
        f"[b]scale=1280:720[v1];[c]scale=640:360[v0];[p]trim=start={poster_at}[pp];"
        f"[s]{_storyboard_filter(seconds)}[sb];"
        f"[0:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,apad,"
        f"atrim=duration={seconds:.3f}[aa]"
    )
    slaves = []
    for i, (name, *_rest) in enumerate(RUNGS):
        slaves.append(f"[select=\\'v:{i},a\\':f=mp4:movflags=+faststart]{name}.mp4")
        slaves.append(f"[select=\\'v:{i},a\\':{_hls(name)}")
    rates = []
    threads = str(tc.encoder_threads_for(len(RUNGS)))
    for i, (_, _, _, maxrate, bufsize) in enumerate(RUNGS):
        rates += [f"-maxrate:v:{i}", maxrate, f"-bufsize:v:{i}", bufsize, f"-threads:v:{i}", threads]
    return [
        *FFMPEG, "-filter_complex_threads", str(os.cpu_count() or 1), "-i", str(source),
        "-filter_complex", graph,
        "-map", "[v0]", "-map", "[v1]", "-map", "[v2]", "-map", "[aa]",
        *_x264(preset, gop), *rates, "-c:a", "aac", "-b:a", "128k", "-ac", "2",
        "-map_metadata", "-1", "-map_chapters", "-1", "-f", "tee", "|".join(slaves),
        "-map", "[pp]", "-frames:v", "1", "-update", "1", "-q:v", "3", "poster.jpg",
        "-map", "[sb]", *STORYBOARD_OUT,
    ]  # fmt: skip


def per_rendition_commands(source: Path, seconds: float, preset: str) -> list[list[str]]:
    """(b) One ffmpeg run per rung (each decoding the source and encoding the audio again),
    plus one for the poster and one for the storyboard (a decode of its own)."""
    poster_at, gop = _ladder_args(seconds)
    commands = []
    for name, width, height, maxrate, bufsize in RUNGS:
        commands.append([
            *FFMPEG, "-i", str(source),
            "-vf", f"fps=fps=30,format=yuv420p,scale={width}:{height},setsar=1",
            "-af", f"aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,apad,"
                   f"atrim=duration={seconds:.3f}",
            *_x264(preset, gop), "-maxrate", maxrate, "-bufsize", bufsize,
            "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-map_metadata", "-1", "-map_chapters", "-1",
            "-map", "0:v:0", "-map", "0:a:0",
            "-f", "tee", f"[f=mp4:movflags=+faststart]{name}.mp4|[{_hls(name)}",
        ])  # fmt: skip
    commands.append(
        [*FFMPEG, "-ss", str(poster_at), "-i", str(source), "-frames:v", "1", "-update", "1",
         "-q:v", "3", "poster.jpg"]
    )  # fmt: skip
    commands.append(
        [*FFMPEG, "-i", str(source), "-vf", f"fps=fps=30,scale=1920:1080,{_storyboard_filter(seconds)}",
         *STORYBOARD_OUT]
    )  # fmt: skip
    return commands


def _run_in(out: Path, argv: list[str]) -> None:
    for name, *_ in RUNGS:
        (out / "hls" / name).mkdir(parents=True, exist_ok=True)
    subprocess.run(argv, cwd=out, check=True, stdin=subprocess.DEVNULL)


def _check_outputs(out: Path, storyboard: bool = True) -> None:
    for name, *_ in RUNGS:
        assert (out / f"{name}.mp4").stat().st_size > 0, f"{out}: {name}.mp4 missing"
        assert (out / "hls" / name / "index.m3u8").is_file(), f"{out}: {name} playlist missing"
    assert (out / "poster.jpg").stat().st_size > 0, f"{out}: poster missing"
    assert (out / sb.SPRITE).is_file() == storyboard, f"{out}: storyboard sprite {'missing' * storyboard}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the test clip (default 60)")
    parser.add_argument("--preset", default=tc.DEFAULT_PRESET, help="x264 preset for all three")
    parser.add_argument("--size", default="1920x1080", help="source size (the ladder stays 1080/720/360)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant; the fastest counts")
    parser.add_argument("--workdir", type=Path, help="keep the clip and outputs here")
    parser.add_argument(
        "--storyboard-only",
        action="store_true",
        help="only ours with and without the storyboard branch, interleaved; the least CPU counts",
    )
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-transcode-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        source = workdir / f"source-{args.size}-{args.seconds}s.mp4"
        if not source.exists():
            print(f"making a {args.seconds} s {args.size} 30 fps clip with audio …", flush=True)
            make_source(source, args.seconds, args.size)
        probed = pr.probe(source)
        seconds = probed.duration

        def ours(out: Path) -> None:
            tc.transcode(source, out, preset=args.preset)

        def ours_no_storyboard(out: Path) -> None:
            tc.transcode(source, out, preset=args.preset, storyboard=False)

        def bare(out: Path) -> None:
            _run_in(out, bare_command(source, seconds, args.preset))

        def per_rendition(out: Path) -> None:
            for argv in per_rendition_commands(source, seconds, args.preset):
                _run_in(out, argv)

        if args.storyboard_only:
            storyboard_only(ours, ours_no_storyboard, workdir, args, seconds)
            return
        results = {}
        variants = (
            ("ours", ours),
            ("bare", bare),
            ("per_rendition", per_rendition),
            ("ours_no_storyboard", ours_no_storyboard),
        )
        for name, run in variants:
            out = workdir / name
            wall, cpu = measure(run, out, args.repeat)
            _check_outputs(out, storyboard=name != "ours_no_storyboard")
            results[name] = (wall, cpu)
            print(f"{name:>14}: wall {wall:7.2f} s   cpu {cpu:7.2f} s", flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    ours_wall, ours_cpu = results["ours"]
    bare_wall, bare_cpu = results["bare"]
    per_wall, per_cpu = results["per_rendition"]
    plain_wall, plain_cpu = results["ours_no_storyboard"]
    figures = {
        "vs_bare": round(ours_wall / bare_wall, 3),
        "vs_per_rendition": round(ours_wall / per_wall, 3),
        "vs_bare_cpu": round(ours_cpu / bare_cpu, 3),
        "vs_per_rendition_cpu": round(ours_cpu / per_cpu, 3),
        "storyboard_wall": round(ours_wall / plain_wall, 3),
        "storyboard_cpu": round(ours_cpu / plain_cpu, 3),
        "realtime_factor": round(seconds / ours_wall, 2),
        "seconds": round(seconds, 2),
        "preset": args.preset,
        "source": args.size,
        "cpus": os.cpu_count(),
        "wall": {k: round(v[0], 2) for k, v in results.items()},
        "cpu": {k: round(v[1], 2) for k, v in results.items()},
    }
    print(
        f"ours / bare ffmpeg (a):           wall {figures['vs_bare']:.2f}x"
        f"   cpu {figures['vs_bare_cpu']:.2f}x"
    )
    print(
        f"ours / one run per rendition (b): wall {figures['vs_per_rendition']:.2f}x"
        f"   cpu {figures['vs_per_rendition_cpu']:.2f}x"
    )
    print(
        f"ours / ours without storyboard:   wall {figures['storyboard_wall']:.2f}x"
        f"   cpu {figures['storyboard_cpu']:.2f}x"
    )
    print(f"realtime factor: {figures['realtime_factor']:.2f}x ({seconds:.0f} s of video)")
    print(json.dumps(figures))


def storyboard_only(ours: Callable, plain: Callable, workdir: Path, args, seconds: float) -> None:
    """What the storyboard branch costs: both variants once per round, the order swapped every
    round (a machine shared with other jobs drifts), the least CPU of each over the rounds.
    CPU rather than wall: another job's load stretches wall time far more than our own CPU."""
    best: dict[str, tuple[float, float]] = {}
    for round_ in range(args.repeat):
        pair = [("ours", ours), ("ours_no_storyboard", plain)]
        for name, run in pair if round_ % 2 == 0 else pair[::-1]:
            wall, cpu = measure(run, workdir / name, 1)
            _check_outputs(workdir / name, storyboard=name == "ours")
            print(f"round {round_ + 1} {name:>18}: wall {wall:7.2f} s   cpu {cpu:7.2f} s", flush=True)
            if name not in best or cpu < best[name][1]:
                best[name] = (wall, cpu)
    (with_wall, with_cpu), (without_wall, without_cpu) = best["ours"], best["ours_no_storyboard"]
    figures = {
        "storyboard_cpu": round(with_cpu / without_cpu, 3),
        "storyboard_wall": round(with_wall / without_wall, 3),
        "seconds": round(seconds, 2),
        "source": args.size,
        "rounds": args.repeat,
        "cpu": {"ours": round(with_cpu, 2), "ours_no_storyboard": round(without_cpu, 2)},
        "wall": {"ours": round(with_wall, 2), "ours_no_storyboard": round(without_wall, 2)},
    }
    print(
        f"ours / ours without storyboard: cpu {figures['storyboard_cpu']:.3f}x"
        f"   wall {figures['storyboard_wall']:.3f}x"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
