"""Benchmark: our one-pass transcode against (a) the same work as one bare ffmpeg command and
(b) the same outputs made one rendition per ffmpeg run (the MediaCMS / PeerTube way), and
against itself without the storyboard branch (what the seek previews cost), on three sources.

    .venv/bin/python bench/transcode.py              # all three sources, est. under 15 min on 2 CPUs
    .venv/bin/python bench/transcode.py --seconds 20 --extra-seconds 5  # a quicker run
    .venv/bin/python bench/transcode.py --sources 1080p_h264  # the main source only, as before
    .venv/bin/python bench/transcode.py --storyboard-only --seconds 10 --repeat 4
        # ours with and without the storyboard branch, interleaved (ABBA…), least CPU counts

The sources, all 30 fps with AAC audio, made with lavfi's testsrc2 at a phone camera's bitrate:

- ``1080p_h264``, the main one: ``--seconds`` (default 60) of 1920x1080 H.264 High, 16 Mbit/s.
  All four variants, so the storyboard's cost is measured here.
- ``2160p_h264``: ``--extra-seconds`` (default 10) of 3840x2160 H.264 High, 64 Mbit/s.
- ``1080p_hevc``: ``--extra-seconds`` of 1920x1080 HEVC Main (libx265, ``hvc1``), 8 Mbit/s:
  HEVC reaches H.264's quality at about half the bitrate, as phones record it.

The two extras have costlier decodes (four times the pixels; HEVC's heavier decoder), which the
one pass pays once and (b) once per rung plus once for the storyboard, so ours/(b) should fall
below the main source's. They are shorter to keep the whole run within 10-15 minutes on 2 CPUs;
the ratios, not the seconds, are what compare. The extras run ours, (a) and (b) only.

The variants run one after another on the same source file with the same encoder settings and
write the same files: 360p/720p/1080p faststart MP4s, an HLS variant of each (TS segments), a
poster JPEG and the storyboard sprite (in (b) one more run, as PeerTube makes storyboards in a
job of their own). ``ours_no_storyboard`` is ours with ``storyboard=False``. All of them decode
with ffmpeg's default decoder for the source's codec (software H.264 or HEVC, frame threads),
none with a hardware decoder, so the decode is the same work in each.

(a) is a hand-written argv with no Python around it; the gap to it is what our
wrapper costs (probing, progress parsing, the master playlist). (b) decodes the source once per
rung and encodes the audio once per rung, which is exactly what the one-pass design saves.

Wall and CPU seconds are measured per variant (CPU = ``getrusage`` deltas of the children plus
this process), best of ``--repeat`` runs. The last line printed is one JSON object with the
figures: the main source's at the top level (the field names of the one-source bench) and every
measured source's under ``sources``, keyed by the names above.
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


# name: (size, codec); the first is the main source (the top-level figures of the JSON).
SOURCES = {
    "1080p_h264": ("1920x1080", "h264"),
    "2160p_h264": ("3840x2160", "h264"),
    "1080p_hevc": ("1920x1080", "hevc"),
}
MAIN = "1080p_h264"


def make_source(path: Path, seconds: int, size: str = "1920x1080", codec: str = "h264") -> None:
    """A 30 fps H.264 High (or HEVC Main)/AAC clip at a phone camera's bitrate (H.264 ~16
    Mbit/s at 1080p, HEVC half that for about the same quality), with CABAC and B-frames, so
    decoding it costs what decoding a real upload costs."""
    width, height = (int(n) for n in size.split("x"))
    rate = max(16, round(16 * width * height / (1920 * 1080)))
    if codec == "hevc":
        rate //= 2
        video = ["-c:v", "libx265", "-preset", "superfast", "-profile:v", "main", "-tag:v", "hvc1",
                 "-x265-params", "log-level=error"]  # fmt: skip
    elif codec == "h264":
        video = ["-c:v", "libx264", "-preset", "superfast", "-profile:v", "high"]
    else:
        raise ValueError(f"unknown codec {codec!r}")
    subprocess.run(
        [*FFMPEG,
         "-f", "lavfi", "-i", f"testsrc2=s={size}:r=30:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f=440:sample_rate=48000:d={seconds}",
         *video, "-pix_fmt", "yuv420p",
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
        [*FFMPEG, "-ss", str(poster_at), "-i", str(source), "-vf", "scale=1920:1080",
         "-frames:v", "1", "-update", "1", "-q:v", "3", "poster.jpg"]
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


def _sources(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SOURCES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(SOURCES)} (got {value!r})")
    return names


def _source_file(workdir: Path, size: str, codec: str, seconds: int) -> Path:
    source = workdir / f"source-{size}-{codec}-{seconds}s.mp4"
    if not source.exists():
        print(f"making a {seconds} s {size} {codec} 30 fps clip with audio …", flush=True)
        make_source(source, seconds, size, codec)
    return source


def _variants(source: Path, seconds: float, preset: str) -> dict[str, Callable[[Path], None]]:
    def ours(out: Path) -> None:
        tc.transcode(source, out, preset=preset)

    def ours_no_storyboard(out: Path) -> None:
        tc.transcode(source, out, preset=preset, storyboard=False)

    def bare(out: Path) -> None:
        _run_in(out, bare_command(source, seconds, preset))

    def per_rendition(out: Path) -> None:
        for argv in per_rendition_commands(source, seconds, preset):
            _run_in(out, argv)

    return {
        "ours": ours,
        "bare": bare,
        "per_rendition": per_rendition,
        "ours_no_storyboard": ours_no_storyboard,
    }


def _figures(results: dict[str, tuple[float, float]], seconds: float) -> dict:
    """The ratios of one source; the storyboard's only where ours ran without it too."""
    ours_wall, ours_cpu = results["ours"]
    bare_wall, bare_cpu = results["bare"]
    per_wall, per_cpu = results["per_rendition"]
    figures = {
        "vs_bare": round(ours_wall / bare_wall, 3),
        "vs_per_rendition": round(ours_wall / per_wall, 3),
        "vs_bare_cpu": round(ours_cpu / bare_cpu, 3),
        "vs_per_rendition_cpu": round(ours_cpu / per_cpu, 3),
    }
    if "ours_no_storyboard" in results:
        plain_wall, plain_cpu = results["ours_no_storyboard"]
        figures["storyboard_wall"] = round(ours_wall / plain_wall, 3)
        figures["storyboard_cpu"] = round(ours_cpu / plain_cpu, 3)
    figures["realtime_factor"] = round(seconds / ours_wall, 2)
    figures["seconds"] = round(seconds, 2)
    return figures


def _print_ratios(figures: dict) -> None:
    print(
        f"ours / bare ffmpeg (a):           wall {figures['vs_bare']:.2f}x"
        f"   cpu {figures['vs_bare_cpu']:.2f}x"
    )
    print(
        f"ours / one run per rendition (b): wall {figures['vs_per_rendition']:.2f}x"
        f"   cpu {figures['vs_per_rendition_cpu']:.2f}x"
    )
    if "storyboard_wall" in figures:
        print(
            f"ours / ours without storyboard:   wall {figures['storyboard_wall']:.2f}x"
            f"   cpu {figures['storyboard_cpu']:.2f}x"
        )
    print(f"realtime factor: {figures['realtime_factor']:.2f}x ({figures['seconds']:.0f} s of video)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the main clip (default 60)")
    parser.add_argument(
        "--extra-seconds",
        type=int,
        default=10,
        help="length of the 4K and HEVC clips (default 10)",
    )
    parser.add_argument(
        "--sources",
        type=_sources,
        default=list(SOURCES),
        help=f"comma-separated sources to measure (default {','.join(SOURCES)})",
    )
    parser.add_argument("--preset", default=tc.DEFAULT_PRESET, help="x264 preset for all variants")
    parser.add_argument(
        "--size", default="1920x1080", help="main source's size (the ladder stays 1080/720/360)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant; the fastest counts")
    parser.add_argument("--workdir", type=Path, help="keep the clips and outputs here")
    parser.add_argument(
        "--storyboard-only",
        action="store_true",
        help="only ours with and without the storyboard branch on the main source, interleaved;"
        " the least CPU counts",
    )
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-transcode-"))
    workdir.mkdir(parents=True, exist_ok=True)
    measured: dict[str, dict] = {}
    try:
        if args.storyboard_only:
            source = _source_file(workdir, args.size, "h264", args.seconds)
            seconds = pr.probe(source).duration
            variants = _variants(source, seconds, args.preset)
            storyboard_only(variants["ours"], variants["ours_no_storyboard"], workdir, args, seconds)
            return
        # The main source first, then the extras in the order of SOURCES.
        for name in [key for key in SOURCES if key in args.sources]:
            size, codec = SOURCES[name]
            length = args.seconds
            if name == MAIN:
                size = args.size
            else:
                length = args.extra_seconds
            print(f"== {name}: {length} s {size} {codec}", flush=True)
            source = _source_file(workdir, size, codec, length)
            seconds = pr.probe(source).duration
            variants = _variants(source, seconds, args.preset)
            if name != MAIN:
                # The storyboard's cost is measured on the main source; here it would only
                # lengthen the run.
                del variants["ours_no_storyboard"]
            results = {}
            for variant, run in variants.items():
                out = workdir / name / variant
                wall, cpu = measure(run, out, args.repeat)
                _check_outputs(out, storyboard=variant != "ours_no_storyboard")
                results[variant] = (wall, cpu)
                print(f"{variant:>18}: wall {wall:7.2f} s   cpu {cpu:7.2f} s", flush=True)
            figures = _figures(results, seconds)
            _print_ratios(figures)
            measured[name] = {
                **figures,
                "source": size,
                "codec": codec,
                "wall": {k: round(v[0], 2) for k, v in results.items()},
                "cpu": {k: round(v[1], 2) for k, v in results.items()},
            }
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    print("\nsource        ours/(a) wall  cpu   ours/(b) wall  cpu   realtime")
    for name, figures in measured.items():
        print(
            f"{name:<12}  {figures['vs_bare']:12.2f}x {figures['vs_bare_cpu']:4.2f}x"
            f"  {figures['vs_per_rendition']:12.2f}x {figures['vs_per_rendition_cpu']:4.2f}x"
            f"  {figures['realtime_factor']:6.2f}x"
        )
    # The main source's figures stay at the top level under the one-source bench's names.
    main_figures = {k: v for k, v in measured.get(MAIN, {}).items() if k != "codec"}
    summary = {
        **main_figures,
        "preset": args.preset,
        "source": args.size if MAIN in measured else None,
        "cpus": os.cpu_count(),
        "sources": measured,
    }
    print(json.dumps(summary))


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
