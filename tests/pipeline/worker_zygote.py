"""Starts real `nanke worker` processes quickly for the failure tests.

Importing torch + diffusers takes 10-20 s on the CI machine; a test that kills and restarts
workers would pay that on every start. This process imports them once and then forks: each
child is a real, separate worker process (its own pid, Celery, DB and Redis connections),
running exactly `nanke worker`. Nothing here runs torch code before forking, so no thread
pool is inherited.

Protocol (one JSON object per line on stdin, one reply line on stdout):
  {"op": "build", "dir": D}                      → builds a tiny sd15 model + models.toml in D
  {"op": "spawn", "env": {...}, "argv": [...], "log": PATH} → the worker's pid

Test-only faults: a worker spawned with NANKE_TEST_CRASH_WORD=W dies (os._exit) as soon as it
starts a job whose prompt contains W, like a worker hit by a segfault or the OOM killer. One
spawned with NANKE_TEST_HOLD_WORD=W and NANKE_TEST_HOLD_UNTIL=PATH keeps a job whose prompt
contains W running (heartbeats and all) until the file PATH exists. NANKE_TEST_JOBS_IN_FLIGHT=N
sets the worker's Celery concurrency (and so how many doorbells it takes) to N.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import celery.bin.worker  # noqa: E402, F401
import diffusers  # noqa: E402
import kombu.transport.redis  # noqa: E402, F401
import transformers  # noqa: E402

import nanke.cli  # noqa: E402
import nanke.roots.worker  # noqa: E402

# diffusers and transformers import their pipeline and model modules lazily, on first
# attribute access (10+ s here): resolve the ones a worker loads, before forking.
_WARM = (
    diffusers.StableDiffusionPipeline,
    diffusers.StableDiffusionImg2ImgPipeline,
    diffusers.AutoencoderKL,
    diffusers.UNet2DConditionModel,
    diffusers.DPMSolverMultistepScheduler,
    diffusers.PNDMScheduler,
    transformers.CLIPTextModel,
    transformers.CLIPTokenizer,
)

MODELS_TOML = """\
[[models]]
name = "tiny"
source = "tiny-sd15"
family = "sd15"
default_steps = 4
base_size = 64
default = true
"""


def _build(directory: Path) -> int:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # to wait for this child
    pid = os.fork()
    if pid == 0:
        try:
            from inference.tiny import build_sd15

            directory.mkdir(parents=True, exist_ok=True)
            build_sd15(directory / "tiny-sd15")
            (directory / "models.toml").write_text(MODELS_TOML)
            os._exit(0)
        except BaseException:
            import traceback

            traceback.print_exc()
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    return os.waitstatus_to_exitcode(status)


def _install_crash_fault(word: str) -> None:
    from inference.worker.engine import Engine

    original = Engine.run

    def run(self, spec, source=None, on_progress=None):  # type: ignore[no-untyped-def]
        if word in spec.generation.prompt:
            os._exit(70)
        return original(self, spec, source, on_progress)

    Engine.run = run  # type: ignore[method-assign]


def _install_hold_fault(word: str, until: Path) -> None:
    import time

    from inference.worker.engine import Engine

    original = Engine.run

    def run(self, spec, source=None, on_progress=None):  # type: ignore[no-untyped-def]
        while word in spec.generation.prompt and not until.exists():
            time.sleep(0.05)
        return original(self, spec, source, on_progress)

    Engine.run = run  # type: ignore[method-assign]


def _spawn(env: dict[str, str], argv: list[str], log: str) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # its own process group: signals to it never reach the zygote
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # the zygote's command pipe is not the worker's business
        os.close(null)
        sys.stdin = open(os.devnull)  # noqa: SIM115
        os.environ.update(env)
        if env.get("NANKE_TEST_CRASH_WORD"):
            _install_crash_fault(env["NANKE_TEST_CRASH_WORD"])
        if env.get("NANKE_TEST_HOLD_WORD"):
            _install_hold_fault(env["NANKE_TEST_HOLD_WORD"], Path(env["NANKE_TEST_HOLD_UNTIL"]))
        if env.get("NANKE_TEST_JOBS_IN_FLIGHT"):
            nanke.roots.worker.JOBS_IN_FLIGHT = int(env["NANKE_TEST_JOBS_IN_FLIGHT"])
        try:
            nanke.cli.main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    # Children are reaped automatically: a dead worker's pid disappears at once.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "build":
            reply = _build(Path(request["dir"]))
        else:
            reply = _spawn(request["env"], request["argv"], request["log"])
        print(reply, flush=True)


if __name__ == "__main__":
    main()
