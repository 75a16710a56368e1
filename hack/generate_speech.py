"""Synthesize the speech fixtures with known text (tests/fixtures/speech).

Needs `espeak-ng`, `flite` and `sox` (Debian packages of those names). The clips
are committed, so the tests do not need these tools; run this only to change them:

    python hack/generate_speech.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "speech"

# (name, engine, voice, text). Plain words, no digits: the score compares words.
CLIPS: list[tuple[str, str, str, str]] = [
    ("call01", "espeak-ng", "en-us", "Thank you for calling, how can I help you today?"),
    ("call02", "flite", "slt", "I would like to schedule a demo of your product next week."),
    (
        "call03",
        "espeak-ng",
        "en-gb",
        "Our team can send you the contract before the end of the day.",
    ),
    ("call04", "flite", "rms", "The customer asked about the price of the premium plan."),
    ("call05", "espeak-ng", "en-us+f3", "Please call me back tomorrow morning after the meeting."),
    ("call06", "flite", "awb", "We are very happy with the service and the support team."),
    (
        "call07",
        "espeak-ng",
        "en-us+m3",
        "Can you tell me more about the features of the new release?",
    ),
    ("call08", "flite", "slt", "I will forward the proposal to my manager for approval."),
]

# A German sentence for language detection and translation (multilingual models only).
# Slower speech: at espeak-ng's default rate Whisper base hears it less surely as German.
GERMAN = (
    "german01",
    "espeak-ng",
    "de",
    "Guten Morgen. Ich möchte gerne einen Termin für nächste Woche vereinbaren. "
    "Können Sie mich bitte morgen zurückrufen?",
)


def synthesize(engine: str, voice: str, text: str, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        if engine == "espeak-ng":
            rate = "130" if voice == "de" else "150"
            subprocess.run(["espeak-ng", "-v", voice, "-s", rate, "-w", str(raw), text], check=True)
        else:
            subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)], check=True)
        # 16 kHz mono 16-bit with a short silence on both ends, like a phone recording.
        subprocess.run(
            [
                "sox",
                str(raw),
                "-r",
                "16000",
                "-c",
                "1",
                "-b",
                "16",
                str(target),
                "pad",
                "0.3",
                "0.3",
            ],
            check=True,
        )


def main() -> int:
    for tool in ("espeak-ng", "flite", "sox"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install espeak-ng flite sox", file=sys.stderr)
            return 1
    FIXTURES.mkdir(parents=True, exist_ok=True)
    manifest = []
    for name, engine, voice, text in [*CLIPS, GERMAN]:
        target = FIXTURES / f"{name}.wav"
        synthesize(engine, voice, text, target)
        language = "de" if name.startswith("german") else "en"
        manifest.append(
            {"file": target.name, "text": text, "language": language, "voice": f"{engine}:{voice}"}
        )
        print(f"wrote {target.relative_to(FIXTURES.parent.parent.parent)}: {text}")
    (FIXTURES / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
