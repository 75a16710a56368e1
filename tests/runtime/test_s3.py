"""S3 sources and sinks against a real S3 protocol server (moto's)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.s3lib import S3Server
from tests.speech import english_clips
from whisper_runtime.errors import FetchError
from whisper_runtime.jobworker import expand_inputs, upload_outputs
from whisper_runtime.s3 import S3Location, S3Store
from whisper_runtime.transcript import Segment, Transcript

pytestmark = pytest.mark.unit


def bucket_with_calls(server: S3Server) -> str:
    bucket = f"calls-{uuid.uuid4().hex[:8]}"
    client = server.client()
    client.create_bucket(Bucket=bucket)
    for clip in english_clips()[:3]:
        client.put_object(
            Bucket=bucket, Key=f"audio/day1/{clip.path.name}", Body=clip.path.read_bytes()
        )
    client.put_object(Bucket=bucket, Key="audio/day1/", Body=b"")  # a console "folder"
    client.put_object(Bucket=bucket, Key="audio/day2/late.wav", Body=b"x")
    return bucket


def test_locations_parse() -> None:
    assert S3Location.parse("s3://b/a/c.wav") == S3Location("b", "a/c.wav")
    assert S3Location.parse("s3://b/a/").is_prefix
    assert S3Location.parse("s3://b").is_prefix
    assert not S3Location.parse("s3://b/a").is_prefix
    with pytest.raises(ValueError, match="not an s3"):
        S3Location.parse("https://b/a")


def test_store_lists_reads_and_refuses(s3_env: S3Server) -> None:
    bucket = bucket_with_calls(s3_env)
    store = S3Store()
    names = sorted(clip.path.name for clip in english_clips()[:3])
    assert store.list(f"s3://{bucket}/audio/day1/") == [
        f"s3://{bucket}/audio/day1/{n}" for n in names
    ]
    first = english_clips()[0]
    assert (
        store.read(f"s3://{bucket}/audio/day1/{first.path.name}", 10_000_000)
        == first.path.read_bytes()
    )
    with pytest.raises(FetchError, match="NoSuchKey"):
        store.read(f"s3://{bucket}/audio/day1/missing.wav", 10_000_000)
    with pytest.raises(FetchError, match="larger than 100 bytes"):
        store.read(f"s3://{bucket}/audio/day1/{first.path.name}", 100)
    with pytest.raises(FetchError, match="NoSuchBucket"):
        store.list("s3://no-such-bucket-here/")


def test_prefixes_expand_and_bad_ones_fail_alone(s3_env: S3Server, tmp_path: Path) -> None:
    bucket = bucket_with_calls(s3_env)
    sources = expand_inputs(
        [
            {"s3": f"s3://{bucket}/audio/day1/"},
            {"s3": f"s3://{bucket}/audio/day2/late.wav"},
            {"s3": f"s3://{bucket}/audio/empty/"},
            {"s3": "s3://no-such-bucket-here/audio/"},
        ],
        tmp_path,
        S3Store(),
    )
    keys = [s.key for s in sources]
    assert len([k for k in keys if "/audio/day1/" in k]) == 3
    assert f"s3://{bucket}/audio/day2/late.wav" in keys
    problems = {s.key: s.problem for s in sources if s.problem}
    assert problems[f"s3://{bucket}/audio/empty/"] == f"no objects under s3://{bucket}/audio/empty/"
    assert "NoSuchBucket" in str(problems["s3://no-such-bucket-here/audio/"])
    assert len(problems) == 2


def test_outputs_upload_under_a_prefix(s3_env: S3Server) -> None:
    bucket = bucket_with_calls(s3_env)
    segment = Segment(
        id=0, seek=0, start=0.0, end=1.5, text=" Hello there.", tokens=(1, 2), temperature=0.0,
        avg_logprob=-0.2, compression_ratio=1.0, no_speech_prob=0.01,
    )  # fmt: skip
    transcript = Transcript(
        language="en", language_probability=1.0, duration=1.5, segments=(segment,)
    )
    stem = upload_outputs(
        S3Store(), f"s3://{bucket}/transcripts/", "s3://x/audio/a.wav", transcript
    )
    assert stem.startswith(f"s3://{bucket}/transcripts/x_audio_a.wav-")
    client = s3_env.client()
    key = S3Location.parse(stem).key
    assert (
        client.get_object(Bucket=bucket, Key=f"{key}.txt")["Body"].read().decode().strip()
        == "Hello there."
    )
    assert (
        "00:00:01,500" in client.get_object(Bucket=bucket, Key=f"{key}.srt")["Body"].read().decode()
    )
    assert client.get_object(Bucket=bucket, Key=f"{key}.vtt")["ContentType"] == "text/vtt"
